from __future__ import annotations

from plandeck.planfile.document import PlanDocument, StoryDoc


def _doc(*keys: str) -> PlanDocument:
    return PlanDocument(file="plan.md", stories=[StoryDoc(key=key, title=key) for key in keys])


class TestStoryLookup:
    def test_finds_stories_appended_after_a_lookup(self) -> None:
        doc = _doc()
        for number in range(1, 51):
            key = f"1.{number}"
            assert doc.story(key) is None
            doc.stories.append(StoryDoc(key=key, title=f"Story {number}"))
            assert doc.story(key) is doc.stories[-1]
        assert doc.story("1.1") is doc.stories[0]

    def test_first_story_of_a_key_wins(self) -> None:
        doc = _doc("1.1", "1.2", "1.1")
        assert doc.story("1.1") is doc.stories[0]

    def test_replaced_list_is_read_again(self) -> None:
        doc = _doc("1.1", "1.2")
        assert doc.story("1.2") is not None
        doc.stories = [StoryDoc(key="2.1", title="Other")]
        assert doc.story("1.2") is None
        assert doc.story("2.1") is doc.stories[0]

    def test_reordered_list_gives_the_same_stories(self) -> None:
        doc = _doc("1.3", "1.1", "1.2")
        assert doc.story("1.1") is not None
        doc.stories.sort(key=lambda story: story.key)
        assert [doc.story(key) for key in ("1.1", "1.2", "1.3")] == doc.stories

    def test_inserted_and_removed_stories_are_noticed(self) -> None:
        doc = _doc("1.1", "1.2")
        assert doc.story("1.2") is not None
        doc.stories.insert(0, StoryDoc(key="1.0", title="First"))
        assert doc.story("1.0") is doc.stories[0]
        doc.stories.pop()
        assert doc.story("1.2") is None
        assert doc.story("1.1") is doc.stories[1]

    def test_index_is_no_part_of_equality_or_repr(self) -> None:
        doc, same = _doc("1.1"), _doc("1.1")
        doc.story("1.1")
        assert doc == same
        assert "_story_index" not in repr(doc)
