"""Page objects of the sprint board and the backlog: what a test may look at and do there."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.e2e.pages_story import NewStoryPage

_EDGE = 40


def _drag(page: Page, source: Locator, target: Locator, *, at: str) -> None:
    """Drag ``source`` onto ``target`` with the mouse, as a person does: press, move a
    little (SortableJS starts a drag after a few pixels), move over the target in small
    steps, release. ``at``: "top" of the target (to land before it) or "end" of it."""
    source.scroll_into_view_if_needed()
    start = source.bounding_box()
    assert start is not None, "the card to drag is not visible"
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 4, y + 6, steps=3)
    # The cards of the list make room for the dragged one as it goes, so its end moves: aim
    # at it again. (A card to land before does not move away.)
    for _ in range(3 if at == "end" else 1):
        box = target.bounding_box()
        assert box is not None, "the place to drop on is not visible"
        to_x = box["x"] + box["width"] / 2
        to_y = box["y"] + (box["height"] * 0.25 if at == "top" else box["height"] - 6)
        viewport = page.viewport_size
        # Near the window's edge SortableJS scrolls the page, and the drop would miss.
        assert viewport is not None
        assert _EDGE < to_y < viewport["height"] - _EDGE, "the place to drop on is out of view"
        page.mouse.move(to_x, to_y, steps=15)
        page.wait_for_timeout(200)  # SortableJS animates the cards making room
    page.mouse.up()


class _Lists:
    """What the board and the backlog share: lists of cards, dragging, the message area."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        # Room for the drag's start and its target to be in view together.
        page.set_viewport_size({"width": 1400, "height": 1000})

    def list_of(self, name: str) -> Locator:
        raise NotImplementedError

    def card(self, key: str) -> Locator:
        return self.page.locator(f'li.card[data-key="{key}"]')

    def keys(self, name: str) -> list[str]:
        cards = self.list_of(name).locator("li.card")
        return [key or "" for key in (card.get_attribute("data-key") for card in cards.all())]

    def drag(self, key: str, *, to: str, before: str | None = None) -> None:
        """Drag card ``key`` into list ``to`` (before card ``before``, else at its end) and
        wait for the move to be sent and the page's lists to be read again."""
        main = self.page.locator("main")
        refreshes = int(main.get_attribute("data-refreshes") or 0)
        with self.page.expect_response(lambda response: "/board/move" in response.url):
            self.drag_only(key, to=to, before=before)
        # board.js counts the times it has put the server's copy of the lists in place.
        expect(main).to_have_attribute("data-refreshes", str(refreshes + 1))

    def drag_only(self, key: str, *, to: str, before: str | None = None) -> None:
        """The drag alone, for a page where it should send nothing."""
        target = self.card(before) if before else self.list_of(to)
        _drag(self.page, self.card(key), target, at="top" if before else "end")

    def message(self) -> Locator:
        return self.page.locator("#flash")

    def open_form(self, form: Locator) -> Locator:
        """Open a disclosure (``<details>``) that holds a form."""
        if form.get_attribute("open") is None:
            form.locator("summary").click()
        return form

    def new_story(self) -> NewStoryPage:
        """Follow the "New story" link (members); wait for the form."""
        with self.page.expect_navigation():
            self.page.locator("#new-story").click()
        return NewStoryPage(self.page)

    def read_only_notice(self) -> Locator:
        return self.page.locator("#read-only")

    def move_forms(self) -> Locator:
        return self.page.locator('form[action$="/board/move"]')


class SprintBoardPage(_Lists):
    def open(self, project_key: str, number: int) -> SprintBoardPage:
        self.page.goto(f"{self.base_url}/projects/{project_key}/sprints/{number}")
        return self

    def list_of(self, name: str) -> Locator:
        return self.page.locator(f'ol[data-list][data-status="{name}"]')

    def column(self, status: str) -> Locator:
        return self.page.locator(f"section.column-{status}")

    def done_points(self) -> str:
        return self.page.locator("#done-points").inner_text().strip()

    def committed_points(self) -> str:
        return self.page.locator("#committed-points").inner_text().strip()

    def status_select(self, key: str) -> Locator:
        return self.page.locator(f'select[id="status-{key}"]')

    def up_button(self, key: str) -> Locator:
        return self.card(key).locator("button.card-up")

    def sprint_status(self) -> str:
        return self.page.locator("#sprint-status").inner_text().strip()

    def start_form(self) -> Locator:
        """The "Start sprint" disclosure (admins, a planned sprint)."""
        return self.page.locator("#start-sprint")

    def complete_form(self) -> Locator:
        """The "Complete sprint" disclosure (admins, the active sprint)."""
        return self.page.locator("#complete-sprint")

    def start_sprint(self) -> None:
        """Start the sprint with the dates the form suggests; wait for the board."""
        form = self.open_form(self.start_form())
        with self.page.expect_navigation():
            form.locator("button[type=submit]").click()

    def complete_sprint(self, *, carry_over_to: str) -> None:
        """Complete the sprint, its unfinished stories going to ``carry_over_to`` (a
        sprint's number as text, or "backlog"); wait for the board."""
        form = self.open_form(self.complete_form())
        form.locator("select[name=carry_over_to]").select_option(carry_over_to)
        with self.page.expect_navigation():
            form.locator("button[type=submit]").click()

    def notice(self) -> Locator:
        """What the board says after starting or completing the sprint."""
        return self.page.locator("#sprint-notice")


class BacklogPage(_Lists):
    def open(self, project_key: str) -> BacklogPage:
        self.page.goto(f"{self.base_url}/projects/{project_key}/backlog")
        return self

    def list_of(self, name: str) -> Locator:
        """``backlog``, or a sprint's number as text."""
        return self.page.locator(f'ol[data-list][data-sprint="{name}"]')

    def planning(self, number: int) -> Locator:
        return self.page.locator(f"#plan-{number}")

    def average_velocity(self) -> str:
        return self.page.locator("#average-velocity").inner_text().strip()

    def new_sprint_form(self) -> Locator:
        """The "New sprint" disclosure (admins)."""
        return self.page.locator("#new-sprint")

    def create_sprint(self, **values: str) -> None:
        """Fill the new sprint form's fields by name (its number comes prefilled) and create
        the sprint; wait for the page that answers."""
        form = self.open_form(self.new_sprint_form())
        for name, value in values.items():
            form.locator(f'[name="{name}"]').fill(value)
        with self.page.expect_navigation():
            form.locator("button[type=submit]").click()
