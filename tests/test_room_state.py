"""The room's state: challenge rules and ranking, fair and bounded submissions, the sent setting, the room file."""
from __future__ import annotations

import pytest

from ui.room_state import MAX_NICKNAME, Entry, Room, RoomRefused, clean_nickname


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def entry(who: str, sparsity: float, accuracy: float, method: str = "l1_unstructured", model: str = "lenet",
          nickname: str = "") -> Entry:
    return Entry(who, clean_nickname(nickname or who), model, method, "global", sparsity, sparsity, accuracy, 0.0)


@pytest.fixture
def room() -> Room:
    return Room(min_interval_s=10, clock=Clock())


def test_nicknames_are_trimmed_cut_and_never_empty():
    assert clean_nickname("  Ada \t Lovelace \n") == "Ada Lovelace"
    assert clean_nickname("") == clean_nickname(None) == clean_nickname(" \u200b ") == "anonymous"
    assert len(clean_nickname("x" * 500)) == MAX_NICKNAME
    assert clean_nickname("a\x00b\u202ec\x1bd") == "abcd"                  # control and direction marks gone
    assert clean_nickname("<script>x</script>") == "<script>x</script>"    # kept as text: escaped when shown


def test_accuracy_rule_ranks_by_sparsity_and_ties_by_time(room):
    room.start_challenge("lenet", "accuracy", 0.95)
    for who, sparsity, accuracy in [("a", 0.5, 0.98), ("b", 0.8, 0.96), ("c", 0.8, 0.97)]:
        room.submit(entry(who, sparsity, accuracy))
        room.clock.now += 1
    assert [e.participant for e in room.leaderboard()] == ["b", "c", "a"]     # b and c tie: b was first
    with pytest.raises(RoomRefused, match="below the challenge's 95.00%"):
        room.submit(entry("d", 0.9, 0.90))
    assert "d" not in room.entries


def test_sparsity_rule_ranks_by_accuracy_and_checks_model_and_methods(room):
    room.start_challenge("lenet", "sparsity", 0.9, ("l1_unstructured", "gradient"))
    room.submit(entry("a", 0.9, 0.80))
    room.submit(entry("b", 0.95, 0.85, method="gradient"))
    assert [e.participant for e in room.leaderboard()] == ["b", "a"]
    with pytest.raises(RoomRefused, match="allows l1_unstructured, gradient"):
        room.submit(entry("c", 0.95, 0.99, method="random_unstructured"))
    with pytest.raises(RoomRefused, match="on lenet: your result is on mlp"):
        room.submit(entry("d", 0.95, 0.99, model="mlp"))
    with pytest.raises(RoomRefused, match="sparsity 50.00% is below"):
        room.submit(entry("e", 0.5, 0.99))


def test_one_submission_per_interval_and_each_participant_keeps_its_best(room):
    room.start_challenge("lenet", "accuracy", 0.9)
    room.submit(entry("a", 0.6, 0.95))
    with pytest.raises(RoomRefused, match="One submission per 10 s"):
        room.submit(entry("a", 0.9, 0.95))
    room.clock.now += 10
    room.submit(entry("a", 0.5, 0.95, nickname="Ada"))            # worse: the better one stays, renamed
    assert [(e.sparsity, e.nickname) for e in room.entries.values()] == [(0.6, "Ada")]
    room.clock.now += 10
    room.submit(entry("a", 0.7, 0.95))
    assert [e.sparsity for e in room.entries.values()] == [0.7]


def test_a_thousand_rapid_submissions_are_bounded(room):
    room.start_challenge("lenet", "accuracy", 0.5)
    accepted = 0
    for i in range(1000):                                       # one participant, as fast as it can
        try:
            room.submit(entry("flooder", i / 1000, 0.99))
            accepted += 1
        except RoomRefused:
            pass
    assert accepted == 1 and len(room.entries) == 1
    small = Room(min_interval_s=10, max_entries=50, max_tracked=100, clock=Clock())
    small.start_challenge("lenet", "accuracy", 0.5)
    for i in range(1000):                                       # a thousand pages, one try each
        small.submit(entry(f"p{i}", (i % 97) / 100, 0.99))
    assert len(small.entries) == 50 and len(small._last_try) <= 100
    board = small.leaderboard(50)
    assert board[0].sparsity == 0.96 and len(board) == 50       # the best were kept, the worst dropped


def test_no_open_challenge_no_submission_and_a_stopped_board_stays(room):
    with pytest.raises(RoomRefused, match="no open challenge"):
        room.submit(entry("a", 0.5, 0.99))
    room.start_challenge("lenet", "accuracy", 0.9)
    room.submit(entry("a", 0.5, 0.99))
    room.stop_challenge()
    room.clock.now += 60
    with pytest.raises(RoomRefused, match="no open challenge"):
        room.submit(entry("b", 0.6, 0.99))
    assert [e.participant for e in room.leaderboard()] == ["a"]
    with pytest.raises(RoomRefused):
        room.start_challenge("lenet", "bogus", 0.9)
    with pytest.raises(RoomRefused):
        room.start_challenge("lenet", "accuracy", 1.5)


def test_sent_settings_are_numbered_and_reset_clears_the_room(room):
    first = room.send("model=lenet&amount=0.8")
    version = room.version
    room.start_challenge("lenet", "accuracy", 0.9)
    room.submit(entry("a", 0.5, 0.99))
    room.reset()
    assert room.challenge is None and room.sent is None and room.entries == {} and room.version > version
    assert room.send("model=mlp").number == first.number + 1      # a page never takes a new send for an old one


def test_the_room_file_keeps_the_room_across_a_restart(tmp_path):
    path = tmp_path / "room.json"
    room = Room(clock=Clock())
    room.attach(path)
    room.start_challenge("lenet", "sparsity", 0.9, ("gradient",))
    room.submit(entry("a", 0.92, 0.9, method="gradient", nickname="<b>Ada</b>"))
    room.send("model=lenet&amount=0.9")
    again = Room()
    again.attach(path)
    assert again.challenge == room.challenge and again.sent == room.sent
    assert again.leaderboard() == room.leaderboard() and again.sends == 1
    path.write_text("{not json")
    broken = Room()
    broken.attach(path)                                         # logged and ignored: an empty room
    assert broken.challenge is None and broken.entries == {}


def test_presence_is_counted_and_bounded():
    room = Room(max_tracked=5)
    for i in range(20):
        room.seen(f"p{i}")
    assert len(room.active()) == 5 and room.active()[0] == "p19"
    assert room.active(within_s=-1) == []
