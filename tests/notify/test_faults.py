"""The test-only fault points of notify: off by default, refused in production, narrow."""

from __future__ import annotations

import os
import signal

import pytest

from services.notify.faults import Faults


def test_faults_are_off_by_default_and_refused_in_production():
    assert Faults.parse("", production=True).faults == ()
    armed = Faults.parse("notify.after_send:kill@t123", production=False)
    assert [(f.point, f.action, f.match) for f in armed.faults] == [("notify.after_send", "kill", "t123")]
    with pytest.raises(RuntimeError, match="refused in production"):
        Faults.parse("notify.after_send:kill", production=True)
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse("notify.somewhere:kill", production=False)
    with pytest.raises(ValueError, match="unknown fault"):
        Faults.parse("notify.after_send:explode", production=False)


def test_a_fault_point_kills_only_for_a_matching_recipient(monkeypatch):
    kills = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
    faults = Faults.parse("notify.after_send:kill@t123", production=False)
    faults.reached("notify.after_send", "other@example.com")
    faults.reached("notify.before_commit", "t123@example.com")
    assert kills == []
    faults.reached("notify.after_send", "t123@example.com")
    assert kills == [(os.getpid(), signal.SIGKILL)]


def test_notify_refuses_to_start_with_a_fault_in_production(monkeypatch):
    from services.notify.app import build
    from services.notify.settings import NotifySettings

    monkeypatch.setenv("GONGKAI_FAULT", "notify.after_send:kill")
    monkeypatch.setenv("GONGKAI_ENV", "production")
    with pytest.raises(RuntimeError):
        build(NotifySettings())
