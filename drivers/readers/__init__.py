"""Serial card readers: NFC line readers, PN532 (HSU), RDM6300 (EM4100) and Wiegand converters.

Each family has a streaming decoder (bytes in, `CardRead`s and `FrameError`s out, never raising);
`SerialCardReader` runs one on a serial port with debounce, drop counting and feedback.
"""

from drivers.readers.frames import CardRead, FrameError
from drivers.readers.line_reader import LineDecoder
from drivers.readers.pn532 import Pn532Decoder
from drivers.readers.rdm6300 import Rdm6300Decoder
from drivers.readers.serial_port import CommandError, ReaderClosed, SerialCardReader
from drivers.readers.wiegand import WiegandDecoder, encode_w26, encode_w34

__all__ = [
    "CardRead",
    "CommandError",
    "FrameError",
    "LineDecoder",
    "Pn532Decoder",
    "Rdm6300Decoder",
    "ReaderClosed",
    "SerialCardReader",
    "WiegandDecoder",
    "encode_w26",
    "encode_w34",
]
