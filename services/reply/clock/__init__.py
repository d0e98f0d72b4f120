"""The case clock: working-day calendar, deadlines of the 2019 Regulations, their explanation.

Pure domain modules (no I/O apart from reading the operator's calendar files):

- ``calendar``: which days are working days, and why (weekend, named holiday, make-up workday).
- ``clock``: the procedural history of a case and the deadlines computed from it (Arts. 30–34),
  warnings, overdue (a calendar change is a new computation: the sweep announces what moved).
- ``explain``: the explanation of a deadline, structured and in Chinese.
- ``triage``: the "five questions" (补不补 / 该不该 / 有没有 / 给不给 / 当不当) and the next step.
- ``codec``: the history as stored on the clock's document.

Adapters: ``service`` (the clock's own documents, collection ``clocks``, fed by the reply
service's events, with their outbox) and ``http`` (the officers' API). See README.md.
"""
