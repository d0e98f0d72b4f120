// A small SMSC (SMPP 3.4 server) for local runs and tests of notify's SMS channel (issue #17),
// on the server side of the npm package `smpp` (pinned by package-lock.json).
//
// - Accepts bind_transceiver / bind_transmitter / bind_receiver with the configured system_id and
//   password (anything else: ESME_RINVSYSID / ESME_RINVPASWD).
// - Answers each submit_sm with a fresh message id and records it as one JSON line in
//   <dir>/submits.jsonl: source, destination, data coding, esm_class, the concatenation header
//   (UDH IE 0x00 or 0x08: ref/total/seq), the decoded text of the part, the message id, the time.
// - When registered_delivery asks for it (bit 0 set), sends a delivery receipt (deliver_sm,
//   esm_class 0x04, "id:… sub:001 dlvrd:001 submit date:… done date:… stat:DELIVRD err:000 text:…")
//   after SMSC_RECEIPT_DELAY_MS, to a receiving session bound with the same system_id; queued for
//   the system_id while none is bound (delivered at the next bind). A receipt leaves the queue
//   only when its deliver_sm_resp says ESME_ROK (else it is sent again): at least once, as a real
//   SMSC does. Every receipt sent is recorded in <dir>/receipts.jsonl, every bind in <dir>/binds.jsonl.
// - Destinations listed in SMSC_FAIL_NUMBERS (comma-separated) or in <dir>/fail-numbers.txt (one a
//   line, read at each submit) get stat:UNDELIV err:001.
//
// Dates in receipts are China time (the SMSC's local time), YYMMDDhhmm as SMPP 3.4 Appendix B.
// Settings (environment or --flags): SMSC_HOST (127.0.0.1), SMSC_PORT (2775), SMSC_DIR (required),
// SMSC_SYSTEM_ID (gongkai), SMSC_PASSWORD (localsms), SMSC_RECEIPT_DELAY_MS (200),
// SMSC_FAIL_NUMBERS (""). Prints "smsc listening on HOST:PORT" once it accepts connections.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import smpp from 'smpp';

function settings() {
    const out = {
        host: process.env.SMSC_HOST || '127.0.0.1',
        port: Number(process.env.SMSC_PORT || 2775),
        dir: process.env.SMSC_DIR || '',
        systemId: process.env.SMSC_SYSTEM_ID || 'gongkai',
        password: process.env.SMSC_PASSWORD || 'localsms',
        receiptDelayMs: Number(process.env.SMSC_RECEIPT_DELAY_MS || 200),
        failNumbers: (process.env.SMSC_FAIL_NUMBERS || '').split(',').map((s) => s.trim()).filter(Boolean),
    };
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '');
        const value = argv[i + 1];
        if (key === 'host') out.host = value;
        else if (key === 'port') out.port = Number(value);
        else if (key === 'dir') out.dir = value;
        else if (key === 'system-id') out.systemId = value;
        else if (key === 'password') out.password = value;
        else if (key === 'receipt-delay-ms') out.receiptDelayMs = Number(value);
        else if (key === 'fail-numbers') out.failNumbers = value.split(',').map((s) => s.trim()).filter(Boolean);
        else throw new Error(`unknown option --${key}`);
    }
    if (!out.dir) throw new Error('SMSC_DIR (or --dir) is required');
    return out;
}

const cfg = settings();
fs.mkdirSync(cfg.dir, { recursive: true });
const SUBMITS = path.join(cfg.dir, 'submits.jsonl');
const RECEIPTS = path.join(cfg.dir, 'receipts.jsonl');
const BINDS = path.join(cfg.dir, 'binds.jsonl');

function append(file, record) {
    fs.appendFileSync(file, JSON.stringify(record) + '\n');
}

// YYMMDDhhmm in China time (UTC+8, no daylight saving).
function smppDate(ms) {
    const d = new Date(ms + 8 * 3600 * 1000);
    const two = (n) => String(n).padStart(2, '0');
    return two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate())
        + two(d.getUTCHours()) + two(d.getUTCMinutes());
}

// The concatenation header of a part: IE 0x00 (8-bit ref) or 0x08 (16-bit ref).
function concatenation(udhList) {
    for (const ie of udhList || []) {
        if (ie[0] === 0x00 && ie[1] === 3) return { ref: ie[2], total: ie[3], seq: ie[4] };
        if (ie[0] === 0x08 && ie[1] === 4) return { ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5] };
    }
    return null;
}

function text(message, dataCoding) {
    if (typeof message === 'string') return message;
    if (!Buffer.isBuffer(message)) return '';
    if ((dataCoding & 0x0f) === 0x08) {
        const copy = Buffer.from(message);
        if (copy.length % 2 === 0) copy.swap16();
        return copy.toString('utf16le');
    }
    return message.toString('latin1');
}

// Receipts waiting for a receiving session of their system_id: system_id -> [receipt].
const queues = new Map();
// Bound sessions that can receive deliver_sm: session -> system_id.
const receivers = new Map();
// Receipts sent to a session and not answered yet: session -> Set(receipt).
const inflight = new Map();

function queueOf(systemId) {
    if (!queues.has(systemId)) queues.set(systemId, []);
    return queues.get(systemId);
}

function receiverFor(systemId) {
    for (const [session, id] of receivers) if (id === systemId) return session;
    return null;
}

function flush(systemId) {
    const session = receiverFor(systemId);
    if (!session) return;
    const queue = queueOf(systemId);
    while (queue.length) {
        const receipt = queue.shift();
        const ok = session.deliver_sm({
            source_addr: receipt.destination,
            destination_addr: receipt.source,
            esm_class: 0x04,
            data_coding: 0,
            short_message: receipt.text,
            receipted_message_id: receipt.message_id,
            message_state: receipt.stat === 'DELIVRD' ? 2 : 5,
        }, (resp) => {
            inflight.get(session)?.delete(receipt);
            if (resp.command_status === 0) {
                append(RECEIPTS, { ...receipt, system_id: systemId, sent_at: new Date().toISOString() });
            } else { // not taken: sent again a little later
                queueOf(systemId).push(receipt);
                setTimeout(() => flush(systemId), 500);
            }
        });
        if (!ok) { // the socket is gone: keep it for the next bind
            queue.unshift(receipt);
            return;
        }
        if (!inflight.has(session)) inflight.set(session, new Set());
        inflight.get(session).add(receipt);
    }
}

// Numbers that fail: SMSC_FAIL_NUMBERS, and those listed (one a line) in <dir>/fail-numbers.txt,
// read at each submit (a test running one SMSC for its session makes a number fail by writing it).
function failNumbers() {
    let listed = [];
    try {
        listed = fs.readFileSync(path.join(cfg.dir, 'fail-numbers.txt'), 'utf8').split('\n').map((s) => s.trim());
    } catch (e) {
        void e;
    }
    return new Set([...cfg.failNumbers, ...listed.filter(Boolean)]);
}

function scheduleReceipt(systemId, part) {
    const failed = failNumbers().has(part.destination);
    const stat = failed ? 'UNDELIV' : 'DELIVRD';
    setTimeout(() => {
        const done = Date.now();
        const receipt = {
            message_id: part.message_id, source: part.source, destination: part.destination, stat,
            text: `id:${part.message_id} sub:001 dlvrd:${failed ? '000' : '001'} submit date:${smppDate(part.at_ms)} `
                + `done date:${smppDate(done)} stat:${stat} err:${failed ? '001' : '000'} text:`,
        };
        queueOf(systemId).push(receipt);
        flush(systemId);
    }, cfg.receiptDelayMs);
}

const server = smpp.createServer({}, (session) => {
    let bound = null; // system_id once bound
    // deliver_sm sent but not answered when the session closed: back to the queue.
    session.on('close', () => {
        receivers.delete(session);
        const unanswered = inflight.get(session);
        inflight.delete(session);
        if (bound && unanswered) queueOf(bound).push(...unanswered);
    });
    session.on('error', () => {});

    for (const command of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
        session.on(command, (pdu) => {
            if (pdu.system_id !== cfg.systemId) {
                session.send(pdu.response({ command_status: smpp.ESME_RINVSYSID }));
                return;
            }
            if (pdu.password !== cfg.password) {
                session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
                return;
            }
            bound = pdu.system_id;
            session.send(pdu.response({ system_id: 'gongkai-smsc' }));
            append(BINDS, { system_id: bound, mode: command.replace('bind_', ''), at: new Date().toISOString() });
            if (command !== 'bind_transmitter') {
                receivers.set(session, bound);
                flush(bound);
            }
        });
    }

    session.on('submit_sm', (pdu) => {
        if (!bound) {
            session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
            return;
        }
        const messageId = crypto.randomBytes(8).toString('hex');
        const sm = pdu.short_message || {};
        const at = Date.now();
        const part = {
            message_id: messageId,
            system_id: bound,
            source: pdu.source_addr,
            source_ton: pdu.source_addr_ton,
            destination: pdu.destination_addr,
            data_coding: pdu.data_coding,
            esm_class: pdu.esm_class,
            registered_delivery: pdu.registered_delivery,
            udh: concatenation(sm.udh),
            text: text(sm.message, pdu.data_coding),
            at: new Date(at).toISOString(),
            at_ms: at,
        };
        append(SUBMITS, part);
        session.send(pdu.response({ message_id: messageId }));
        if (pdu.registered_delivery & 0x01) scheduleReceipt(bound, part);
    });

    session.on('enquire_link', (pdu) => session.send(pdu.response()));
    session.on('unbind', (pdu) => {
        receivers.delete(session);
        session.send(pdu.response());
        session.close();
    });
    session.on('unknown', (pdu) => session.send(pdu.response()));
});

// Receipts handed to a session that closed before answering are sent again at the next bind.
setInterval(() => {
    for (const [systemId, queue] of queues) {
        if (queue.length && receiverFor(systemId)) flush(systemId);
    }
}, 1000).unref();

server.listen(cfg.port, cfg.host, () => {
    process.stdout.write(`smsc listening on ${cfg.host}:${cfg.port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
        server.close();
        process.exit(0);
    });
}
