"""Tests for the serial card-reader drivers: every framing rule and checksum of the four families,
decoders fed random bytes, encode → decode round trips, and the real path through a pty and
pyserial to `SerialCardReader` for each family (reads, debounce, dropped frames, feedback).

Expected frames and bit strings are written out by hand (checksums worked in the comments), so a
test never trusts one half of a codec to check the other; the simulators carry their own encoders.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.readers import (
    CardRead,
    FrameError,
    LineDecoder,
    Pn532Decoder,
    Rdm6300Decoder,
    ReaderClosed,
    SerialCardReader,
    WiegandDecoder,
    encode_w26,
    encode_w34,
    line_reader,
    pn532,
    rdm6300,
    wiegand,
)
from drivers.readers.pn532 import Ack, Frame, Nack
from simulators.readers import LineReaderSim, Pn532Sim, Rdm6300Sim, WiegandConverterSim

TIMEOUT = 5.0


def reasons(items: list[object]) -> list[str]:
    return [item.reason for item in items if isinstance(item, FrameError)]


def good(items: list[object]) -> list[object]:
    return [item for item in items if not isinstance(item, FrameError)]


def feed_bytewise(decoder: object, data: bytes) -> list[object]:
    out: list[object] = []
    for i in range(len(data)):
        out.extend(decoder.feed(data[i : i + 1]))  # type: ignore[attr-defined]
    return out


# --------------------------------------------------------------------------------------------
# 1. Line readers: hex UID + CRLF
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, uid",
    [
        (b"04A1B2C3\r\n", "04A1B2C3"),
        (b"04a1b2c3d4e5f6\r\n", "04A1B2C3D4E5F6"),
        (b"0102030405060708090A\r\n", "0102030405060708090A"),
        (b"DEADBEEF\n", "DEADBEEF"),  # a bare LF is a line end too
    ],
)
def test_line_reader_decodes_uids(line: bytes, uid: str) -> None:
    items = LineDecoder().feed(line)
    assert items == [CardRead(uid=uid, format="nfc-uid", raw=line.rstrip(b"\r\n"))]


def test_line_reader_buffers_partial_lines_and_skips_blank_ones() -> None:
    decoder = LineDecoder()
    assert decoder.feed(b"\r\n04A1") == []
    assert decoder.feed(b"B2C3\r") == []
    assert [r.uid for r in decoder.feed(b"\nDEADBEEF\r\n")] == ["04A1B2C3", "DEADBEEF"]


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"04A1B2CZ\r\n", "line reader: non-hex character in line"),
        (b"04 A1B2C3\r\n", "line reader: non-hex character in line"),
        (b"04A1B2\r\n", "line reader: 6 hex digits, expected 8, 14 or 20 (a 4, 7 or 10 byte UID)"),
        (
            b"04A1B2C3D4\r\n",
            "line reader: 10 hex digits, expected 8, 14 or 20 (a 4, 7 or 10 byte UID)",
        ),
    ],
)
def test_line_reader_rejects_bad_lines(line: bytes, reason: str) -> None:
    decoder = LineDecoder()
    assert reasons(decoder.feed(line)) == [reason]
    assert [r.uid for r in decoder.feed(b"DEADBEEF\r\n")] == ["DEADBEEF"]


def test_line_reader_overlong_line_is_reported_once_and_memory_stays_bounded() -> None:
    decoder = LineDecoder(max_line=64)
    items = []
    for _ in range(100):  # 10 kB of babble without a line end
        items += decoder.feed(b"A" * 100)
    assert reasons(items) == ["line reader: line longer than 64 bytes, discarded"]
    assert len(decoder._lines._buf) <= 64
    # The babble's tail up to the line end is part of the same bad line, not a second error.
    assert [r.uid for r in decoder.feed(b"AAAA\r\nDEADBEEF\r\n")] == ["DEADBEEF"]


def test_line_reader_overlong_line_arriving_whole() -> None:
    items = LineDecoder(max_line=64).feed(b"B" * 80 + b"\r\nDEADBEEF\r\n")
    assert reasons(items) == ["line reader: line longer than 64 bytes, discarded"]
    assert [r.uid for r in good(items)] == ["DEADBEEF"]


def test_line_reader_feedback_commands() -> None:
    assert LineDecoder().feedback(True) == b"OK\r\n"
    assert LineDecoder().feedback(False) == b"ER\r\n"
    assert line_reader.encode_line(bytes.fromhex("04a1b2c3")) == b"04A1B2C3\r\n"
    with pytest.raises(ValueError):
        line_reader.encode_line(b"\x01\x02")


# --------------------------------------------------------------------------------------------
# 2. RDM6300 (EM4100)
# --------------------------------------------------------------------------------------------

# 12 ^ 34 ^ 56 ^ 78 ^ 9A = 92
RDM_FRAME = b"\x02123456789A92\x03"


def test_rdm6300_decodes_a_frame() -> None:
    (read,) = Rdm6300Decoder().feed(RDM_FRAME)
    assert read == CardRead("123456789A", "em4100", RDM_FRAME, number=0x3456789A)
    assert rdm6300.decimal_10(read.number) == "0878082202"
    assert rdm6300.decimal_8(read.number) == "086,30874"  # 0x56 = 86, 0x789A = 30874
    assert rdm6300.encode_frame(bytes.fromhex("123456789a")) == RDM_FRAME


def test_rdm6300_frame_split_byte_by_byte() -> None:
    assert [r.uid for r in feed_bytewise(Rdm6300Decoder(), RDM_FRAME * 2)] == ["123456789A"] * 2


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"\x02123456789A93\x03", "rdm6300: checksum mismatch (frame says 93, data gives 92)"),
        (b"\x02123456789A92\x04", "rdm6300: no ETX where the frame should end"),
        (b"\x0212345678ZA92\x03", "rdm6300: non-hex character in frame"),
    ],
)
def test_rdm6300_rejects_bad_frames_and_resyncs(frame: bytes, reason: str) -> None:
    items = Rdm6300Decoder().feed(frame + RDM_FRAME)
    assert reasons(items)[0] == reason
    assert good(items) == [CardRead("123456789A", "em4100", RDM_FRAME, number=0x3456789A)]


def test_rdm6300_noise_is_one_error_and_a_false_stx_does_not_hide_the_next_frame() -> None:
    decoder = Rdm6300Decoder()
    items = decoder.feed(b"junk\x02zz" + RDM_FRAME)
    assert reasons(items)[0] == "rdm6300: 4 byte(s) of noise outside a frame"
    assert [r.uid for r in good(items)] == ["123456789A"]
    # A good frame ends the damaged stretch, so the next noise is reported again.
    assert reasons(decoder.feed(b"??")) == ["rdm6300: 2 byte(s) of noise outside a frame"]


def test_rdm6300_has_no_feedback() -> None:
    assert Rdm6300Decoder().feedback(True) is None


# --------------------------------------------------------------------------------------------
# 3. Wiegand 26/34 as bit lines
# --------------------------------------------------------------------------------------------

# Facility 123 = 01111011, number 45678 = 0xB26E = 1011001001101110.
# First 12 data bits 011110111011 have 9 ones → even parity bit 1; last 12 001001101110 have 6
# ones → odd parity bit 1.
W26 = "1" + "01111011" + "1011001001101110" + "1"
# 0xDEADBEEF: DEAD has 11 ones → even parity bit 1; BEEF has 13 → odd parity bit 0.
W34 = "1" + "11011110101011011011111011101111" + "0"


def flip(bits: str, *positions: int) -> str:
    out = list(bits)
    for p in positions:
        out[p] = "1" if out[p] == "0" else "0"
    return "".join(out)


def test_wiegand_encoders_match_hand_worked_bits() -> None:
    assert encode_w26(123, 45678) == W26
    assert encode_w34(3735928559) == W34
    with pytest.raises(ValueError):
        encode_w26(256, 1)
    with pytest.raises(ValueError):
        encode_w34(1 << 32)


def test_wiegand_decodes_26_and_34() -> None:
    items = WiegandDecoder().feed(f"{W26}\r\n{W34}\r\n".encode())
    assert items == [
        CardRead("W26:123:45678", "wiegand-26", W26.encode(), number=45678),
        CardRead("W34:3735928559", "wiegand-34", W34.encode(), number=3735928559),
    ]


@pytest.mark.parametrize(
    "bits, reason",
    [
        (flip(W26, 0), "wiegand-26 parity error (even)"),
        (flip(W26, 25), "wiegand-26 parity error (odd)"),
        (flip(W26, 5), "wiegand-26 parity error (even)"),  # a data bit in the first half
        (flip(W26, 20), "wiegand-26 parity error (odd)"),  # a data bit in the second half
        (flip(W26, 0, 25), "wiegand-26 parity error (even and odd)"),
        (flip(W34, 0), "wiegand-34 parity error (even)"),
        (flip(W34, 33), "wiegand-34 parity error (odd)"),
        (flip(W34, 16), "wiegand-34 parity error (even)"),  # last bit covered by the even parity
        (flip(W34, 17), "wiegand-34 parity error (odd)"),  # first bit covered by the odd parity
        (W26 + "0", "wiegand: 27 bits, expected 26 or 34"),
        (W26[:-1].replace("1", "2", 1) + "1", "wiegand: character other than '0'/'1' in line"),
    ],
)
def test_wiegand_rejects_bad_reads(bits: str, reason: str) -> None:
    decoder = WiegandDecoder()
    assert reasons(decoder.feed(bits.encode() + b"\r\n")) == [reason]
    assert [r.uid for r in decoder.feed(W34.encode() + b"\r\n")] == ["W34:3735928559"]


def test_wiegand_overlong_line() -> None:
    items = WiegandDecoder().feed(b"01" * 50 + b"\r\n" + W26.encode() + b"\r\n")
    assert reasons(items) == ["wiegand: line longer than 64 bytes, discarded"]
    assert [r.uid for r in good(items)] == ["W26:123:45678"]


# --------------------------------------------------------------------------------------------
# 4. PN532 HSU framing, commands, responses
# --------------------------------------------------------------------------------------------

# D4+14+01+14+01 = FE → DCS 02; LEN 05 → LCS FB.
SAM_FRAME = bytes.fromhex("0000FF05FBD4140114010200")
# D4+4A+01+00 = 11F → DCS E1.
POLL_FRAME = bytes.fromhex("0000FF04FCD44A0100E100")
# D5 4B | 1 target: Tg 01, SENS_RES 0004, SEL_RES 08, NFCID1 length 04, DE AD BE EF.
# Sum of the 12 bytes = 46A → DCS 96; LEN 0C → LCS F4.
CARD_RESPONSE = bytes.fromhex("0000FF0CF4D54B010100040804DEADBEEF9600")
ACK = bytes.fromhex("0000FF00FF00")
NACK = bytes.fromhex("0000FFFF0000")
ERROR = bytes.fromhex("0000FF01FF7F8100")


def test_pn532_encodes_command_frames() -> None:
    assert pn532.command_frame(pn532.sam_configuration()) == SAM_FRAME
    assert pn532.command_frame(pn532.in_list_passive_target()) == POLL_FRAME
    assert pn532.encode_frame(0x7F, b"") == ERROR


def test_pn532_decodes_ack_nack_error_and_response() -> None:
    items = Pn532Decoder().feed(ACK + CARD_RESPONSE + NACK + ERROR)
    assert items == [
        Ack(),
        Frame(0xD5, bytes.fromhex("4B010100040804DEADBEEF")),
        Nack(),
        Frame(0x7F, b""),
    ]
    assert items[3].is_error


def test_pn532_frames_split_byte_by_byte_and_wakeup_preamble_is_not_noise() -> None:
    stream = pn532.WAKEUP + SAM_FRAME + b"\x00\x00\x00" + ACK
    items = feed_bytewise(Pn532Decoder(), stream)
    assert items == [Frame(0xD4, bytes.fromhex("14011401")), Ack()]


@pytest.mark.parametrize(
    "bad, reason",
    [
        (bytes.fromhex("0000FF0CF5D54B"), "pn532: length checksum (LCS) mismatch"),
        (CARD_RESPONSE[:-2] + b"\x97\x00", "pn532: data checksum (DCS) mismatch"),
        (CARD_RESPONSE[:-1] + b"\x01", "pn532: bad postamble 01"),
        (ACK[:-1] + b"\xaa", "pn532: bad postamble AA"),
        (bytes.fromhex("0000FF0000"), "pn532: impossible frame length 0"),
        (bytes.fromhex("0000FF01FFAA5600"), "pn532: unknown frame identifier AA"),
        (bytes.fromhex("0000FFFFFF0101FF"), "pn532: extended length checksum (LCS) mismatch"),
        (bytes.fromhex("0000FFFFFF0200FE"), "pn532: impossible frame length 512"),
    ],
)
def test_pn532_rejects_bad_frames_and_resyncs(bad: bytes, reason: str) -> None:
    items = Pn532Decoder().feed(bad + CARD_RESPONSE)
    assert reasons(items)[0] == reason
    assert good(items)[-1] == Frame(0xD5, bytes.fromhex("4B010100040804DEADBEEF"))


def test_pn532_truncated_frame_swallowing_the_next_is_found_again() -> None:
    # A response cut off after 4 data bytes; its LEN claims 12, so it eats into the ACK and the
    # next response, fails its DCS, and the decoder rescans from just after its start code.
    items = Pn532Decoder().feed(CARD_RESPONSE[:9] + ACK + CARD_RESPONSE)
    assert reasons(items)[0] == "pn532: data checksum (DCS) mismatch"
    assert good(items) == [Ack(), Frame(0xD5, bytes.fromhex("4B010100040804DEADBEEF"))]


def test_pn532_flush_reports_a_truncated_frame_and_recovers_what_follows() -> None:
    decoder = Pn532Decoder()
    # A false start claiming 0x40 bytes, then an ACK that would otherwise wait behind it.
    assert decoder.feed(bytes.fromhex("0000FF40C0D5") + ACK) == []
    items = decoder.flush()
    assert reasons(items) == ["pn532: truncated frame"]
    assert good(items) == [Ack()]


def test_pn532_noise_is_one_error_until_the_next_good_frame() -> None:
    decoder = Pn532Decoder()
    assert reasons(decoder.feed(b"\xde\xad")) == ["pn532: 2 byte(s) of noise outside a frame"]
    assert decoder.feed(b"\xbe\xef" + ACK) == [Ack()]
    assert reasons(decoder.feed(b"\x13")) == ["pn532: 1 byte(s) of noise outside a frame"]


def test_pn532_extended_frame_round_trip() -> None:
    data = bytes(range(256)) + b"\x01\x02"
    wire = pn532.encode_frame(0xD5, data)
    assert wire[:8] == bytes.fromhex("0000FFFFFF0103FC")  # LEN 0x0103 = TFI + 258, LCS = -(01+03)
    assert Pn532Decoder().feed(wire) == [Frame(0xD5, data)]


@pytest.mark.parametrize(
    "response, uids",
    [
        ("4B00", []),
        ("4B010100040804DEADBEEF", ["DEADBEEF"]),
        ("4B01010044000704112233445566", ["04112233445566"]),
        # ISO 14443-4 card (SEL_RES 0x20): an ATS follows, TL 05 counting itself.
        ("4B010100042004A1B2C3D40575778002", ["A1B2C3D4"]),
    ],
)
def test_pn532_parses_in_list_passive_target(response: str, uids: list[str]) -> None:
    found = pn532.parse_in_list_passive_target(bytes.fromhex(response))
    assert [uid.hex().upper() for uid in found] == uids


@pytest.mark.parametrize(
    "response, reason",
    [
        ("4A00", "pn532: not an InListPassiveTarget response"),
        ("4B01010004", "pn532: target header truncated"),
        ("4B010100040805DEADBEEF01", "pn532: NFCID1 length 5, expected 4, 7 or 10"),
        ("4B010100040804DEAD", "pn532: NFCID1 truncated"),
        ("4B010100042004A1B2C3D40975", "pn532: ATS missing or truncated"),
        ("4B010100040804DEADBEEF00", "pn532: 1 unexpected byte(s) after the targets"),
        ("4B03", "pn532: 3 targets reported, the PN532 handles at most 2"),
    ],
)
def test_pn532_rejects_malformed_target_lists(response: str, reason: str) -> None:
    with pytest.raises(FrameError) as caught:
        pn532.parse_in_list_passive_target(bytes.fromhex(response))
    assert caught.value.reason == reason


def test_pn532_write_gpio_keeps_p32_p34_high() -> None:
    # Validation bit 80 | P32, P34 reserved (14) | P30 green 01 / P33 red 08 | P31 buzzer 02.
    assert pn532.feedback_command(True) == bytes([0x0E, 0x97, 0x00])
    assert pn532.feedback_command(False) == bytes([0x0E, 0x9E, 0x00])
    assert pn532.write_gpio() == bytes([0x0E, 0x94, 0x00])
    assert pn532.rf_max_retries() == bytes([0x32, 0x05, 0xFF, 0x01, 0x02])


# --------------------------------------------------------------------------------------------
# 5. Properties: random bytes never raise; round trips; resync after noise
# --------------------------------------------------------------------------------------------

DECODERS: dict[str, Callable[[], object]] = {
    "line": LineDecoder,
    "rdm6300": Rdm6300Decoder,
    "wiegand": WiegandDecoder,
    "pn532": Pn532Decoder,
}
ALLOWED = (CardRead, FrameError, Frame, Ack, Nack)
# Bytes that look like each protocol's syntax, so random streams hit the interesting branches.
protocol_bytes = st.binary(max_size=300) | st.lists(
    st.sampled_from(
        [b"\x00", b"\xff", b"\x00\x00\xff", b"\x02", b"\x03", b"\r\n", b"0", b"1", b"A", b"\xd5"]
    ),
    max_size=200,
).map(b"".join)


@pytest.mark.parametrize("family", DECODERS)
@settings(max_examples=300)
@given(chunks=st.lists(protocol_bytes, max_size=8))
def test_random_bytes_never_raise(family: str, chunks: list[bytes]) -> None:
    decoder = DECODERS[family]()
    items = []
    for chunk in chunks:
        items += decoder.feed(chunk)  # type: ignore[attr-defined]
    if isinstance(decoder, Pn532Decoder):
        items += decoder.flush()
    assert all(isinstance(item, ALLOWED) for item in items)


@pytest.mark.parametrize("family", DECODERS)
@given(data=protocol_bytes, cuts=st.lists(st.integers(0, 300), max_size=6))
def test_good_items_do_not_depend_on_how_bytes_are_chunked(
    family: str, data: bytes, cuts: list[int]
) -> None:
    whole = good(DECODERS[family]().feed(data))  # type: ignore[attr-defined]
    decoder = DECODERS[family]()
    chunked: list[object] = []
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    for a, b in itertools.pairwise(bounds):
        chunked += decoder.feed(data[a:b])  # type: ignore[attr-defined]
    assert good(chunked) == whole


@given(uid=st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
def test_line_round_trip(uid: bytes) -> None:
    (read,) = LineDecoder().feed(line_reader.encode_line(uid))
    assert read.uid == uid.hex().upper()


@given(card=st.binary(min_size=5, max_size=5))
def test_rdm6300_round_trip(card: bytes) -> None:
    (read,) = Rdm6300Decoder().feed(rdm6300.encode_frame(card))
    assert (read.uid, read.number) == (card.hex().upper(), int.from_bytes(card[1:], "big"))


@given(facility=st.integers(0, 255), number=st.integers(0, 0xFFFF), n34=st.integers(0, 2**32 - 1))
def test_wiegand_round_trips(facility: int, number: int, n34: int) -> None:
    assert wiegand.decode_bits(encode_w26(facility, number)).uid == f"W26:{facility}:{number}"
    assert wiegand.decode_bits(encode_w34(n34)).uid == f"W34:{n34}"


@given(tfi=st.sampled_from([0xD4, 0xD5]), data=st.binary(max_size=pn532.MAX_FRAME_LEN - 1))
def test_pn532_round_trip(tfi: int, data: bytes) -> None:
    assert Pn532Decoder().feed(pn532.encode_frame(tfi, data)) == [Frame(tfi, data)]


@given(
    noise=st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"")),
    data=st.binary(max_size=40),
)
def test_pn532_frame_after_noise_is_found(noise: bytes, data: bytes) -> None:
    # Without 00 the noise holds no start code, so nothing in it can claim the frame's bytes.
    decoder = Pn532Decoder()
    assert good(decoder.feed(noise + pn532.encode_frame(0xD5, data))) == [Frame(0xD5, data)]


@given(
    noise=st.binary(max_size=200).map(lambda b: b.replace(b"\x02", b"")),
    card=st.binary(min_size=5, max_size=5),
)
def test_rdm6300_frame_after_noise_is_found(noise: bytes, card: bytes) -> None:
    items = Rdm6300Decoder().feed(noise + rdm6300.encode_frame(card))
    assert [r.uid for r in good(items)] == [card.hex().upper()]


@given(
    noise=st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")),
    card=st.binary(min_size=4, max_size=4),
)
def test_line_after_noise_is_found(noise: bytes, card: bytes) -> None:
    items = LineDecoder().feed(noise + b"\r\n" + line_reader.encode_line(card))
    assert good(items)[-1].uid == card.hex().upper()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# 6. Through a real pty and pyserial
# --------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FAMILIES = {
    "line": (LineReaderSim, LineDecoder, "04a1b2c3d4e5f6", "04A1B2C3D4E5F6", b"#@!\r\n"),
    "pn532": (Pn532Sim, Pn532Decoder, "deadbeef", "DEADBEEF", b"\xde\xad\xbe\xef"),
    "rdm6300": (Rdm6300Sim, Rdm6300Decoder, "123456789a", "123456789A", b"\x13\x37junk"),
    "wiegand": (WiegandConverterSim, WiegandDecoder, "W26:123:45678", "W26:123:45678", b"10\r\n"),
}


@pytest.fixture(params=list(FAMILIES))
def family(request: pytest.FixtureRequest) -> Iterator[tuple]:
    sim_class, decoder_class, card, uid, noise = FAMILIES[request.param]
    with sim_class() as sim:
        yield sim, decoder_class, card, uid, noise


async def next_read(reader: SerialCardReader) -> CardRead:
    return await asyncio.wait_for(reader.read(), TIMEOUT)


def open_reader(sim: object, decoder: object, **kw: object) -> SerialCardReader:
    kw.setdefault("poll_interval_s", 0.01)
    return SerialCardReader(sim.path, decoder, **kw)  # type: ignore[attr-defined, arg-type]


async def test_tap_delivers_a_card_read(family: tuple) -> None:
    sim, decoder_class, card, uid, _ = family
    async with open_reader(sim, decoder_class()) as reader:
        sim.tap(card)
        read = await next_read(reader)
    assert read.uid == uid
    assert reader.dropped == 0


async def test_garbage_is_dropped_counted_and_logged_then_cards_still_arrive(
    family: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    sim, decoder_class, card, uid, noise = family
    caplog.set_level(logging.WARNING, logger="drivers.readers")
    async with open_reader(sim, decoder_class()) as reader:
        sim.garbage(noise)
        sim.tap(card)
        read = await next_read(reader)
    assert read.uid == uid
    assert reader.dropped == 1
    assert len(reader.recent_drops) == 1
    assert any(r.name == "drivers.readers" and "dropped frame" in r.message for r in caplog.records)


async def test_debounce_suppresses_a_repeat_within_the_window_but_not_after() -> None:
    clock = Clock()
    with LineReaderSim() as sim:
        async with open_reader(sim, LineDecoder(), clock=clock, debounce_s=2.0) as reader:
            sim.tap("DEADBEEF")
            assert (await next_read(reader)).uid == "DEADBEEF"
            clock.now += 1.5
            sim.tap("DEADBEEF")  # within 2 s: suppressed
            sim.tap("04A1B2C3")  # another card is not
            assert (await next_read(reader)).uid == "04A1B2C3"
            assert reader.suppressed == 1
            clock.now += 2.0  # 2 s after the last sight of DEADBEEF
            sim.tap("DEADBEEF")
            assert (await next_read(reader)).uid == "DEADBEEF"
            assert reader.suppressed == 1


async def test_a_held_rdm6300_card_counts_once() -> None:
    clock = Clock()
    with Rdm6300Sim() as sim:
        async with open_reader(sim, Rdm6300Decoder(), clock=clock) as reader:
            sim.tap("123456789A", repeats=5)
            sim.tap("0102030405")
            assert [(await next_read(reader)).uid for _ in range(2)] == ["123456789A", "0102030405"]
            assert reader.suppressed == 4


async def test_line_reader_feedback_reaches_the_reader() -> None:
    with LineReaderSim() as sim:
        async with open_reader(sim, LineDecoder()) as reader:
            assert await reader.send_feedback(True)
            assert await reader.send_feedback(False)
            assert await asyncio.to_thread(sim.wait_feedback, 2) == [True, False]
    assert bytes(sim.from_host) == b"OK\r\nER\r\n"


async def test_pn532_host_protocol_and_feedback() -> None:
    with Pn532Sim() as sim:
        async with open_reader(sim, Pn532Decoder()) as reader:
            sim.present("04112233445566")
            assert (await next_read(reader)).uid == "04112233445566"
            assert await reader.send_feedback(True)
            assert await reader.send_feedback(False)
            assert await asyncio.to_thread(sim.wait_feedback, 2) == [True, False]
            # The "wrong" pulse ends with everything switched off (P32/P34 still high).
            assert await asyncio.to_thread(sim.wait_until, lambda: sim.gpio[-1:] == [0x94])
    assert bytes(sim.from_host).startswith(pn532.WAKEUP + SAM_FRAME)
    assert sim.commands[:3] == [0x14, 0x32, 0x4A]
    assert sim.commands.count(0x14) == 1
    assert sim.gpio[:2] == [0x97, 0x9E]
    assert sim.host_errors == []


async def test_pn532_keeps_polling_until_a_card_comes() -> None:
    # The sim, like the chip, would hold an InListPassiveTarget until a card comes had the host
    # not limited the retries; the driver limits them, so polls return empty and repeat.
    with Pn532Sim() as sim:
        async with open_reader(sim, Pn532Decoder()) as reader:
            assert await asyncio.to_thread(sim.wait_until, lambda: sim.commands.count(0x4A) >= 3)
            sim.tap("deadbeef")
            assert (await next_read(reader)).uid == "DEADBEEF"


async def test_pn532_starts_over_with_a_wakeup_after_a_silent_command() -> None:
    with Pn532Sim() as sim:
        async with open_reader(sim, Pn532Decoder(), command_timeout_s=0.2) as reader:
            assert await asyncio.to_thread(sim.wait_until, lambda: 0x4A in sim.commands)
            sim.mute = True  # power blip: one poll goes unanswered
            assert await asyncio.to_thread(sim.wait_until, lambda: sim.ignored > 0)
            sim.mute = False
            assert await asyncio.to_thread(sim.wait_until, lambda: sim.commands.count(0x14) == 2)
            sim.tap("deadbeef")
            assert (await next_read(reader)).uid == "DEADBEEF"
            assert reader.command_failures >= 1


@pytest.mark.parametrize(
    "sim_class, decoder_class",
    [(Rdm6300Sim, Rdm6300Decoder), (WiegandConverterSim, WiegandDecoder)],
)
async def test_readers_without_a_feedback_channel(sim_class: type, decoder_class: type) -> None:
    with sim_class() as sim:
        async with open_reader(sim, decoder_class()) as reader:
            assert await reader.send_feedback(True) is False


async def test_on_read_callback_and_closing() -> None:
    seen: list[CardRead] = []
    arrived = asyncio.Event()

    def on_read(read: CardRead) -> None:
        seen.append(read)
        arrived.set()

    with WiegandConverterSim() as sim:
        reader = open_reader(sim, WiegandDecoder(), on_read=on_read)
        async with reader:
            sim.tap("W34:3735928559")
            await asyncio.wait_for(arrived.wait(), TIMEOUT)
        assert [r.uid for r in seen] == ["W34:3735928559"]
        assert await reader.closed() == "reader closed"
        with pytest.raises(ReaderClosed):
            await reader.read()
        assert await reader.send_feedback(True) is False


async def test_iteration_ends_when_the_port_goes_away() -> None:
    sim = LineReaderSim()
    async with open_reader(sim, LineDecoder()) as reader:
        sim.tap("DEADBEEF")
        uids = []

        async def collect() -> None:
            async for read in reader:
                uids.append(read.uid)
                sim.close()  # the cable is pulled

        await asyncio.wait_for(collect(), TIMEOUT)
        reason = await asyncio.wait_for(reader.closed(), TIMEOUT)
    assert uids == ["DEADBEEF"]
    assert reason.startswith("port failed")
