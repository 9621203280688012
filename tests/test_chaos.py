"""Chaos: real processes against a real Mosquitto. Every seq the edge produced must be stored in
the cloud exactly once, the outbox must end empty, and fire alarms raised during the fault must
reach the cloud as soon as the path is back.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.brokers import MosquittoBroker
from tests.chaos import ChaosRig, wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None,
    reason="chaos tests restart the broker, which needs a mosquitto binary (installed by .ci/run)",
)

# After recovery: reconnect (backoff capped at 5 s) plus the 3 s confirmation timeout.
FIRE_AFTER_RECOVERY_S = 10.0


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ChaosRig]:
    broker = MosquittoBroker(persistence=True)
    broker.start()
    rig = ChaosRig(tmp_path, broker)
    try:
        rig.start_sim()
        rig.start_cloud()
        rig.start_edge()
        wait_for(lambda: rig.stored_count() > 50, 30, "messages flowing to the cloud")
        yield rig
    finally:
        rig.stop_all()
        broker.stop()


def _fault(
    rig: ChaosRig, break_it: Callable[[], None], mend: Callable[[], None], hold_s: float
) -> float:
    """Break, hold the fault while the simulator keeps changing values, mend. Returns the
    wall-clock time (s) the fault began."""
    began = time.time()
    break_it()
    time.sleep(hold_s)  # the fault lasts this long by design
    mend()
    return began


def _assert_lossless(rig: ChaosRig, fault_began: float) -> None:
    recovered = time.time()

    def fire_after_fault() -> list[tuple[int, str]]:
        return rig.fire_messages_stored_after(int(fault_began * 1000))

    fire = wait_for(fire_after_fault, 30, "a fire alarm from the fault window reached the cloud")
    _, received = fire[0]  # type: ignore[index]
    received_at = datetime.fromisoformat(received)
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)  # SQLite keeps UTC without the zone
    delay = received_at.timestamp() - recovered
    assert delay <= FIRE_AFTER_RECOVERY_S, (
        f"fire alarm reached the cloud {delay:.1f} s after recovery"
    )

    # Stop the changes, then everything the edge wrote must drain and be confirmed.
    rig.kill(rig.sim, signal.SIGTERM)
    wait_for(lambda: rig.outbox_depth() == 0, 60, "the edge's outbox drained")
    stream, last = rig.produced()
    stored = rig.stored_seqs(stream)
    assert len(stored) == len(set(stored)), "a message was stored twice"
    missing = sorted(set(range(1, last + 1)) - set(stored))
    assert not missing, f"{len(missing)} of {last} messages never reached the store: {missing[:10]}"


def test_kill_9_the_edge_mid_stream_then_restart(rig: ChaosRig) -> None:
    began = _fault(rig, lambda: rig.kill(rig.edge), rig.start_edge, hold_s=2)
    _assert_lossless(rig, began)


def test_kill_9_the_cloud_mid_stream_then_restart(rig: ChaosRig) -> None:
    began = _fault(rig, lambda: rig.kill(rig.cloud), rig.start_cloud, hold_s=3)
    _assert_lossless(rig, began)


def test_restart_the_broker_mid_stream(rig: ChaosRig) -> None:
    began = _fault(rig, rig.broker.stop, rig.broker.start, hold_s=2)
    _assert_lossless(rig, began)


def test_restart_the_broker_without_persistence(rig: ChaosRig) -> None:
    # In-flight and queued messages die with this broker; only end-to-end confirmation saves them.
    def restart_amnesic() -> None:
        rig.broker.persistence = False
        rig.broker.start()

    began = _fault(rig, rig.broker.stop, restart_amnesic, hold_s=2)
    _assert_lossless(rig, began)


def test_sustained_broker_outage(rig: ChaosRig) -> None:
    began = _fault(rig, rig.broker.stop, rig.broker.start, hold_s=60)
    _assert_lossless(rig, began)
