"""The audit ledger's hash chain: any change to a stored entry is found, at the right entry."""

from __future__ import annotations

import hashlib

import pytest

from services.audit.chain import GENESIS, Verdict, entry_hash, verify

VALUES = [f'{{"id":"e{i}","data":{{"n":{i}}}}}'.encode() for i in range(1, 7)]


def build(values: list[bytes]) -> list[tuple[int, str, str, bytes]]:
    """Entries (seq, prev_hash, hash, value) computed from the definition in the module docstring."""
    entries, prev = [], GENESIS
    for seq, value in enumerate(values, start=1):
        h = hashlib.sha256(bytes.fromhex(prev) + value).hexdigest()
        entries.append((seq, prev, h, value))
        prev = h
    return entries


def test_entry_hash_is_sha256_of_previous_hash_bytes_and_value():
    assert GENESIS == "0" * 64
    assert entry_hash(GENESIS, b"abc") == hashlib.sha256(b"\x00" * 32 + b"abc").hexdigest()
    assert entry_hash(GENESIS, b"abc") != entry_hash(GENESIS, b"abd")
    other = "11" * 32
    assert entry_hash(other, b"abc") != entry_hash(GENESIS, b"abc")


@pytest.mark.parametrize("n", [0, 1, 2, 6])
def test_good_chain_verifies(n):
    v = verify(build(VALUES[:n]))
    assert v == Verdict(True, n)
    assert v.first_bad_seq is None and v.reason is None


def _with(entries, index, **changes):
    seq, prev, h, value = entries[index]
    row = {"seq": seq, "prev": prev, "hash": h, "value": value} | changes
    out = list(entries)
    out[index] = (row["seq"], row["prev"], row["hash"], row["value"])
    return out


@pytest.mark.parametrize("index", [0, 2, 5])
def test_altered_value_detected_at_its_seq(index):
    entries = _with(build(VALUES), index, value=VALUES[index].replace(b'"n"', b'"m"'))
    v = verify(entries)
    assert not v.ok
    assert v.first_bad_seq == index + 1
    assert v.checked == index
    assert v.reason


def test_one_flipped_byte_is_enough():
    value = bytearray(VALUES[3])
    value[-2] ^= 0x01
    v = verify(_with(build(VALUES), 3, value=bytes(value)))
    assert (v.ok, v.first_bad_seq) == (False, 4)


@pytest.mark.parametrize("index", [0, 3, 5])
def test_altered_hash_detected(index):
    entries = build(VALUES)
    forged = "ab" * 32
    v = verify(_with(entries, index, hash=forged))
    assert not v.ok
    assert v.first_bad_seq == index + 1


def test_altered_value_with_recomputed_hash_breaks_the_next_link():
    # A forger who rewrites entry 3 and its hash is caught at entry 4, whose prev no longer matches.
    entries = build(VALUES)
    value = b'{"id":"e3","data":{"n":999}}'
    entries = _with(entries, 2, value=value, hash=entry_hash(entries[2][1], value))
    v = verify(entries)
    assert (v.ok, v.first_bad_seq, v.checked) == (False, 4, 3)


def test_altered_prev_hash_detected():
    v = verify(_with(build(VALUES), 2, prev="cd" * 32))
    assert (v.ok, v.first_bad_seq) == (False, 3)


@pytest.mark.parametrize("index", [0, 1, 3])
def test_removed_entry_detected_at_its_seq(index):
    entries = build(VALUES)
    del entries[index]
    v = verify(entries)
    assert not v.ok
    assert v.first_bad_seq == index + 1
    assert v.checked == index


def test_removed_entry_with_renumbering_detected():
    # Remove entry 3 and renumber the rest: entry 4 (now "3") does not chain from entry 2.
    entries = build(VALUES)
    del entries[2]
    entries = [(i, p, h, v) for i, (_, p, h, v) in enumerate(entries, start=1)]
    v = verify(entries)
    assert (v.ok, v.first_bad_seq) == (False, 3)


def test_reordered_entries_detected():
    entries = build(VALUES)
    entries[1], entries[2] = entries[2], entries[1]
    v = verify(entries)
    assert (v.ok, v.first_bad_seq) == (False, 2)


def test_swapped_values_keeping_seq_and_hashes_detected():
    entries = build(VALUES)
    a, b = entries[1], entries[2]
    entries[1] = (a[0], a[1], a[2], b[3])
    entries[2] = (b[0], b[1], b[2], a[3])
    v = verify(entries)
    assert (v.ok, v.first_bad_seq) == (False, 2)


def test_chain_must_start_at_seq_one():
    v = verify(build(VALUES)[1:])
    assert (v.ok, v.first_bad_seq, v.checked) == (False, 1, 0)


def test_verify_accepts_any_iterable():
    v = verify(iter(build(VALUES)))
    assert v == Verdict(True, len(VALUES))
