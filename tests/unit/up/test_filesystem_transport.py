"""The embedded broker's transport writes whole messages, and consumers skip unfinished ones."""

from __future__ import annotations

from pathlib import Path

from kombu.connection import Connection

from starcast.up.filesystem import TRANSPORT


def test_messages_round_trip_and_unfinished_files_are_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "messages"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path),
    }
    broker = Connection(  # type: ignore[no-untyped-call]
        "filesystem://", transport=TRANSPORT, transport_options=options
    )
    with broker as conn:
        queue = conn.SimpleQueue("batches")
        # What a writer caught mid-message leaves behind: consumers must not take it.
        (folder / ".1_x.batches.msg.partial").write_bytes(b'{"bod')
        queue.put({"rows": 3})
        assert sorted(p.name.endswith(".batches.msg") for p in folder.iterdir()) == [False, True]
        message = queue.get(timeout=2)
        assert message.payload == {"rows": 3}
        message.ack()
        queue.close()
    assert [p.name for p in folder.iterdir()] == [".1_x.batches.msg.partial"]
