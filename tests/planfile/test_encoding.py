from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plandeck.planfile.encoding import Repair, decode_document, repair_text

SHARED = Path(__file__).resolve().parents[3] / "shared"
FIXTURE = SHARED / "fixtures" / "phase3-plan.md"
EXPECTED = SHARED / "fixtures" / "phase3-plan.expected.json"

# What Windows-1254 leaves over from UTF-8 lead and continuation bytes: none may survive.
MOJIBAKE = re.compile("[ØÙÛð]|â€|ğŸ")


def damage(text: str) -> str:
    """Do to ``text`` what happened to the fixture: its UTF-8 read as Windows-1254, the
    bytes that code page leaves undefined (0x81, 0x8D, 0x8E, 0x8F, 0x90, 0x9D, 0x9E) dropped."""
    return text.encode("utf-8").decode("cp1254", errors="ignore")


def lost_bytes_of(text: str) -> set[int]:
    return {byte for byte in text.encode("utf-8") if byte in b"\x81\x8d\x8e\x8f\x90\x9d\x9e"}


@pytest.fixture(scope="module")
def phase3() -> tuple[str, list[Repair]]:
    result = decode_document(FIXTURE.read_bytes())
    return result.text, result.repairs


class TestPhase3Fixture:
    def test_headings_are_the_expected_ones(self, phase3: tuple[str, list[Repair]]) -> None:
        text, _ = phase3
        expected = json.loads(EXPECTED.read_text(encoding="utf-8"))["repaired_headings"]
        headings = [line[3:] for line in text.split("\n") if line.startswith("## ")]
        assert headings == expected

    def test_priority_heading_keeps_its_zero_width_non_joiner(
        self, phase3: tuple[str, list[Repair]]
    ) -> None:
        text, _ = phase3
        assert "## 🎯 اولویت\u200cبندی" in text.split("\n")

    def test_previous_phase_line(self, phase3: tuple[str, list[Repair]]) -> None:
        text, _ = phase3
        expected = json.loads(EXPECTED.read_text(encoding="utf-8"))["phase"]["previous_phase"]
        assert f"**Previous Phase:** {expected}" in text.split("\n")
        assert "**Previous Phase:** Phase 2 Complete ✅ (All 8 Sprints Done)" in text

    def test_no_mojibake_left(self, phase3: tuple[str, list[Repair]]) -> None:
        text, _ = phase3
        assert MOJIBAKE.findall(text) == []
        assert not any("\x80" <= char <= "\x9f" for char in text)

    def test_lost_bytes_are_reported_with_their_lines(
        self, phase3: tuple[str, list[Repair]]
    ) -> None:
        text, repairs = phase3
        lines = text.split("\n")
        lost = [
            (repair.line, repair.before, repair.after)
            for repair in repairs
            if repair.note.startswith("lost byte")
        ]
        assert lost == [(9, "Ù", "ف"), (27, "ğŸ¯", "🎯"), (196, "ğŸ¯", "🎯")]
        for line, _, after in lost:
            assert after in lines[line - 1]

    def test_lost_byte_notes_name_the_candidates_and_the_rule(
        self, phase3: tuple[str, list[Repair]]
    ) -> None:
        _, repairs = phase3
        notes = {repair.after: repair.note for repair in repairs if "lost byte" in repair.note}
        assert notes["ف"] == (
            "lost byte 0x81 restored: chose 'ف' U+0641 over 'َ' U+064E "
            "(rule: letter over combining mark)"
        )
        assert notes["🎯"].startswith("lost byte 0x8E restored: chose '🎯' U+1F3AF over ")
        assert "U+1F06F" in notes["🎯"]
        assert notes["🎯"].endswith("(rule: emoji over symbol)")

    def test_every_repair_points_at_its_line(self, phase3: tuple[str, list[Repair]]) -> None:
        text, repairs = phase3
        damaged = FIXTURE.read_text(encoding="utf-8").split("\n")
        lines = text.split("\n")
        assert repairs
        for repair in repairs:
            assert repair.before in damaged[repair.line - 1]
            assert repair.after in lines[repair.line - 1]

    def test_ascii_lines_are_unchanged(self, phase3: tuple[str, list[Repair]]) -> None:
        text, _ = phase3
        damaged = FIXTURE.read_text(encoding="utf-8").split("\n")
        lines = text.split("\n")
        assert len(lines) == len(damaged)
        assert [line for line in lines if line.isascii()] == [
            line for line in damaged if line.isascii()
        ]

    def test_repairing_again_changes_nothing(self, phase3: tuple[str, list[Repair]]) -> None:
        text, _ = phase3
        assert repair_text(text).repairs == []


# Correct documents in the scripts plans are written in; none may be touched.
CORRECT = {
    "persian": "## 📊 وضعیت فعلی\n- اولویت‌بندی: بالا، پیشنهادی\n- ظرفیت تیم: ۱۲ امتیاز\n",
    "arabic": "## الخطة\nفي الفصل الثالث: الفلسفة والتاريخ، حرف ف وقاف.\n",
    "cyrillic": "## План\nЁлка, съешь же ещё этих мягких французских булок, да выпей чаю.\n",
    "greek": "## Σχέδιο\nΞεσκεπάζω την ψυχοφθόρα βδελυγμία — Ωραία!\n",
    "turkish": "## Plan\nŞişli'de ağaç dikildi; İstanbul ılık, öğrenci üç şarkı söyledi. ĞÜŞİÖÇ ğüşıöç\n",
    "cjk": "## 计划\n第三阶段：生产与集成。ひらがな、カタカナ、한국어도 됩니다。\n",
    "emoji": "## 🎯 Goals 🎉🎨🎁📁📎😁🚁🦁 ✅ ⚡ 🚀 👍🏽 👨‍👩‍👧 🇹🇷\n",
    "accented": "café, naïve, Ünïcödé, crème brûlée, “quoted” ‘text’ — déjà vu… Œuvre «bien»\n",
}


class TestCorrectTextIsUntouched:
    @pytest.mark.parametrize("name", sorted(CORRECT))
    def test_comes_through_unchanged(self, name: str) -> None:
        result = repair_text(CORRECT[name])
        assert result.text == CORRECT[name]
        assert result.repairs == []

    @pytest.mark.parametrize("name", sorted(CORRECT))
    def test_document_bytes_come_through_unchanged(self, name: str) -> None:
        data = CORRECT[name].encode("utf-8")
        result = decode_document(data)
        assert result.text.encode("utf-8") == data
        assert result.repairs == []

    def test_all_scripts_together(self) -> None:
        text = "".join(CORRECT[name] for name in sorted(CORRECT))
        assert repair_text(text) == repair_text(text)  # deterministic
        assert repair_text(text).text == text
        assert repair_text(text).repairs == []

    def test_turkish_letters_that_are_windows_1254_bytes(self) -> None:
        # ş ğ ı İ Ş Ğ are exactly the letters Windows-1254 has where others have ð þ ý.
        text = "Ağır işçi İşıl, Şükrü ve Ğ: doğru, eğri, kuşçu, ışık"
        assert repair_text(text).text == text
        assert repair_text(text).repairs == []

    def test_other_code_pages_ftfy_knows_are_not_used(self) -> None:
        # ftfy reads "ÈàÜ" as Mac Roman mojibake of 鈆; the plans never went through Mac Roman.
        assert repair_text("ÈàÜ").repairs == []

    def test_turkish_beside_persian_mojibake(self) -> None:
        text = "Şişli'de ağaç, İstanbul ılık; GÜÇ\n" + damage("و وضعیت فعلی")
        result = repair_text(text)
        assert result.text == "Şişli'de ağaç, İstanbul ılık; GÜÇ\nو وضعیت فعلی"
        assert {repair.line for repair in result.repairs} == {2}

    def test_accented_letter_before_typographic_punctuation(self) -> None:
        # é… é” Ç” are UTF-8-shaped when read back as Windows-1254 bytes, but are real text.
        text = "Il a dit «café…» puis “GÜÇ” et ‘naïve’ — FRANÇ’"
        assert repair_text(text).repairs == []


# Letters and symbols from every script above. Left out on purpose, because strings of them
# are genuinely ambiguous: the Windows-1254 characters that are UTF-8 continuation bytes
# (€ ‚ „ … “ ” ‘ ’ – — © ° « » and the rest of 0x80-0xBF) next to ones that are lead bytes
# (Â Ã Ç Ø Ù â ğ ...). Hypothesis finds "Ç°", which is C7 B0, the UTF-8 of "ǰ"; "Ã©" is both
# two letters and the mojibake of "é". Real text in these scripts does not put them together.
_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?()[]#*-_/'\"\n"
    "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیءآأؤئةيك\u200c۱۲۳٤٥"
    "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгдеёжзийклмнопрстуфхцчшщъыьэюя"
    "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρστυφχψωάέήίόύώ"
    "çğıöşüÇĞİÖŞÜ"
    "éèêëàâîïôûùÿñáíóúÉÈÀÊÎÔÛÑ"
    "计划第三阶段生产与集成ひらがなカタカナ한국어"
    "🎯🎉🎨🎁📁📎📊📋📅🚀✅⚡😁🦁👍"
)


class TestPropertyUntouched:
    @given(st.text(alphabet=_ALPHABET, max_size=200))
    def test_text_from_real_scripts_is_never_repaired(self, text: str) -> None:
        result = repair_text(text)
        assert result.text == text
        assert result.repairs == []

    @given(st.text(alphabet=_ALPHABET, max_size=200))
    def test_correct_text_beside_mojibake_is_never_repaired(self, text: str) -> None:
        # The mojibake makes Arabic-script and Latin runs fair game for rule 2, yet the
        # correct text around it must still come through.
        original = "## 🎯 اولویت‌بندی و وضعیت فعلی ✅ — café"
        result = repair_text(text + "\n" + damage(original) + "\n" + text)
        assert result.text == text + "\n" + original + "\n" + text
        assert {repair.line for repair in result.repairs} == {text.count("\n") + 2}


class TestDamageRoundTrip:
    # Each loses only 0x81 or 0x8E to the damage, the bytes the fixture lost.
    SAMPLES = (
        "📊 وضعیت فعلی",
        "🎯 اولویت‌بندی",
        "📋 Phase 3 Stories (پیشنهادی فعلی)",
        "که فقط و فقط",
        "فرهنگ و هنر",
        "حرف اضافه",
        "ظرفیت تیم: فقط فردا",
        "في الفصل الثالث: الفلسفة",
        "🎉 جشن 🎨 هنر 🎁 هدیه",
        "📁 پرونده‌ها و 😁 لبخند",
        "سؤال فوری ⁉ و ✅ انجام شد",
        "Ёлка и ель",
    )

    @pytest.mark.parametrize("original", SAMPLES)
    def test_damaged_text_is_restored(self, original: str) -> None:
        assert lost_bytes_of(original) <= {0x81, 0x8E}
        damaged = damage(original)
        assert damaged != original
        result = repair_text(damaged)
        assert result.text == original
        assert MOJIBAKE.findall(result.text) == []

    def test_samples_do_lose_bytes(self) -> None:
        assert all(lost_bytes_of(sample) for sample in self.SAMPLES)

    def test_two_bytes_lost_from_one_emoji(self) -> None:
        # 🎁 is F0 9F 8E 81: both its last bytes go, "ğŸ" is all that is left.
        assert damage("🎁").encode("cp1254") == b"\xf0\x9f"
        result = repair_text(damage("🎁 هدیه"))
        assert result.text == "🎁 هدیه"
        notes = [repair.note for repair in result.repairs if repair.after == "🎁"]
        assert notes[-1].startswith("lost bytes 0x8E 0x81 restored: chose '🎁' U+1F381")

    def test_tie_between_two_emoji_goes_to_the_lower_byte(self) -> None:
        # 😎 (F0 9F 98 8E) and 😁 (F0 9F 98 81) both lose their last byte to the same "ğŸ˜":
        # nothing tells them apart, so the documented last rule picks 0x81.
        result = repair_text(damage("cool 😎 face"))
        assert result.text == "cool 😁 face"
        assert "over '😎' U+1F60E (rule: lower byte)" in result.repairs[-1].note

    def test_surrounding_script_breaks_a_tie_between_letters(self) -> None:
        # チ (E3 83 81) loses its last byte; E3 83 + a lost byte may be チ or ノ (Katakana) or,
        # with the byte first, ぃ (E3 81 83, Hiragana). Beside ケ the Katakana one wins...
        result = repair_text(damage("チケット"))
        assert result.text == "チケット"
        note = result.repairs[-1].note
        assert note.startswith("lost byte 0x81 restored: chose 'チ' U+30C1 over ")
        assert "'ノ' U+30CE (rule: lower byte)" in note
        assert "'ぃ' U+3043 (rule: KATAKANA like the text around it)" in note
        # ... and with no letter beside it the lower byte sequence does: ぃ.
        assert repair_text(damage("チ")).text == "ぃ"

    def test_mojibake_next_to_correct_text_is_repaired_alone(self) -> None:
        text = "وضعیت " + damage("✅ فعلی") + " café"
        result = repair_text(text)
        assert result.text == "وضعیت ✅ فعلی café"
        assert [repair.before for repair in result.repairs] == ["âœ…", "ÙØ¹Ù„ÛŒ", "Ù"]

    def test_lone_damaged_letter_without_evidence_is_left(self) -> None:
        # A lone "Ù" could be real text; nothing else in the run proves it is mojibake.
        assert repair_text("x Ù y").repairs == []
        # Beside other Persian mojibake, "Ùˆ" is read as و, but "Ù" stays: ف or fatha?
        assert repair_text(damage("و ف و") + " " + damage("وضعیت")).text == "و Ù و وضعیت"

    def test_short_words_are_repaired_by_the_rest_of_the_text(self) -> None:
        # ftfy does not flag "Ùˆ" (و, "and") on its own; the Persian mojibake around it does.
        alone = damage("و")
        assert repair_text(alone).repairs == []
        result = repair_text(alone + "\n" + damage("وضعیت فعلی"))
        assert result.text == "و\nوضعیت فعلی"
        assert result.repairs[0] == Repair(
            1, "Ùˆ", "و", "Windows-1254 mojibake, like the rest of the text"
        )

    def test_lost_bytes_must_be_continuation_bytes(self) -> None:
        with pytest.raises(ValueError, match="continuation"):
            repair_text("x", lost_bytes=(0x41,))

    def test_other_lost_bytes_can_be_tried(self) -> None:
        # 🍕 is F0 9F 8D 95: Windows-1254 drops the 0x8D, which the default does not try.
        damaged = damage("🍕 pizza")
        assert repair_text(damaged).text != "🍕 pizza"
        assert repair_text(damaged, lost_bytes=(0x8D,)).text == "🍕 pizza"


class TestWholeRunMojibake:
    def test_windows_1252_mojibake(self) -> None:
        text = "ðŸ“Š cafÃ© â€” naÃ¯ve"
        result = repair_text(text)
        assert result.text == "📊 café — naïve"
        assert result.repairs[0].note == "Windows-1252 mojibake"

    def test_windows_1254_mojibake_note(self) -> None:
        result = repair_text("## ğŸš€ Next")
        assert result.repairs == [Repair(1, "ğŸš€", "🚀", "Windows-1254 mojibake")]

    def test_quotes_and_normal_form_are_kept(self) -> None:
        # ftfy would uncurl the quotes and compose e + U+0301 by default; we don't let it.
        text = "“e\u0301” " + damage("✅")
        assert repair_text(text).text == "“e\u0301” ✅"

    def test_line_numbers_count_every_line(self) -> None:
        text = "a\n\nb\n" + damage("🚀") + "\nc " + damage("✅")
        assert [repair.line for repair in repair_text(text).repairs] == [4, 5]


class TestDecodeDocument:
    def test_bom_is_stripped(self) -> None:
        result = decode_document(b"\xef\xbb\xbf# Plan\n")
        assert result.text == "# Plan\n"
        assert result.repairs == []

    def test_crlf_and_cr_become_lf(self) -> None:
        result = decode_document(b"a\r\nb\rc\n")
        assert result.text == "a\nb\nc\n"

    def test_bom_crlf_and_mojibake_together(self) -> None:
        data = b"\xef\xbb\xbf# Plan\r\n\r\n## " + damage("🎯 اولویت").encode("utf-8") + b"\r\n"
        result = decode_document(data)
        assert result.text == "# Plan\n\n## 🎯 اولویت\n"
        assert {repair.line for repair in result.repairs} == {3}

    def test_fixture_with_bom_and_crlf_gives_the_same_text(
        self, phase3: tuple[str, list[Repair]]
    ) -> None:
        text, repairs = phase3
        data = b"\xef\xbb\xbf" + FIXTURE.read_bytes().replace(b"\n", b"\r\n")
        result = decode_document(data)
        assert result.text == text
        assert result.repairs == repairs

    def test_windows_1254_file(self) -> None:
        data = "# Plan\nŞişli'de ağaç\n".encode("cp1254")
        result = decode_document(data)
        assert result.text == "# Plan\nŞişli'de ağaç\n"
        assert len(result.repairs) == 1
        repair = result.repairs[0]
        assert repair.line == 1
        assert repair.before == "\\xde"
        assert repair.after == "Ş"
        assert "Windows-1254" in repair.note
        assert "line 2" in repair.note

    def test_windows_1252_file(self) -> None:
        data = "café Žižek\n".encode("cp1252")
        result = decode_document(data)
        assert result.text == "café Žižek\n"
        assert result.repairs[0].line == 1
        assert "Windows-1252" in result.repairs[0].note

    def test_bytes_no_code_page_defines_are_still_read(self) -> None:
        result = decode_document(b"caf\xe9 \x81\n")
        assert result.text == "café \x81\n"
        assert "Windows-1252" in result.repairs[0].note


class TestSpeed:
    def test_a_megabyte_of_mostly_ascii_is_fast(self) -> None:
        chunk = (
            "- [ ] Setup database connection string and run the Prisma migrations\n" * 400
            + "## "
            + damage("🎯 اولویت‌بندی ✅")
            + "\n"
            + "## 🎯 اولویت‌بندی — café Türkçe ş ğ ı İ\n"
        )
        text = chunk * (1_000_000 // len(chunk) + 1)
        assert len(text) >= 1_000_000
        best = float("inf")
        # CPU time, best of five: other processes (xdist workers, CI neighbours) don't count.
        for _ in range(5):
            started = time.process_time()
            result = repair_text(text)
            best = min(best, time.process_time() - started)
        assert best < 0.1, f"{best:.3f} s"
        assert MOJIBAKE.findall(result.text) == []
        assert result.text.count("## 🎯 اولویت‌بندی ✅\n") == len(text) // len(chunk)
