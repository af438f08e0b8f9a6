"""Lines back into paragraphs, before anything else reads the text.

Portals write one paragraph per line; editors and e-mail clients wrap lines at a fixed width;
a page copied from the browser breaks sentences wherever a link or a tag was ("Kepala\\nBPOM\\nRI
Taruna Ikrar menjelaskan, keterangan “\\nair pegunungan\\n” pada label"); some texts have no
paragraph breaks at all. :func:`join_lines` decides, for each line break inside a block of lines,
whether it ends a paragraph; :func:`split_run_on` cuts a story that is one long paragraph into
paragraphs of whole sentences.
"""

from __future__ import annotations

from distributor.text.credits import byline, credit_line
from distributor.text.dateline import is_dateline_line
from distributor.text.furniture import is_furniture
from distributor.text.related import related_line
from distributor.text.sentences import CLOSERS, ends_sentence, split_sentences

__all__ = ["is_hard_wrapped", "join_lines", "reflow_lines", "split_lede", "split_run_on",
           "stands_alone"]

#: a story paragraph longer than this with several sentences and nothing else is a run-on text
RUN_ON_MIN = 400
#: sentences per paragraph when a run-on text is cut into paragraphs
RUN_ON_SENTENCES = 3
#: the lede of a text without paragraph breaks: its first sentence, two if it is shorter
SHORT_SENTENCE = 40

_TERMINAL = (".", "!", "?", "…", ":")
#: characters that close what came before ('"' could open a quotation as well: not here)
_CONTINUING = "”’»)]},.;:%"
#: characters that open a quotation or an aside and only that
_OPENING = "“‘«([{"


def _ends_a_sentence(line: str) -> bool:
    words = line.split()
    return bool(words) and (ends_sentence(words[-1], None) or line.rstrip(CLOSERS).endswith(
        _TERMINAL))


def _continues(line: str) -> bool:
    """True when ``line`` cannot start a sentence: a lowercase word, closing punctuation."""
    return line[0].islower() or line[0] in _CONTINUING


def is_hard_wrapped(lines: list[str]) -> bool:
    """True for a block of lines wrapped at a fixed width inside paragraphs."""
    if len(lines) < 3:
        return len(lines) == 2 and not _ends_a_sentence(lines[0]) and _continues(lines[1])
    width = max(len(line) for line in lines)
    if width > 100 or width < 50:  # wrapping happens at 60 to 80 columns
        return False
    full = sum(len(line) >= 0.7 * width for line in lines[:-1])
    return full >= 0.6 * (len(lines) - 1) and not all(_ends_a_sentence(x) for x in lines[:-1])


def _title_case(line: str) -> bool:
    words = [w for w in line.split() if len(w) > 3 and w[0].isalpha()]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _fragment(line: str) -> bool:
    return len(line.split()) <= 3 and not _ends_a_sentence(line)


def join_lines(lines: list[str]) -> list[str]:
    """The paragraphs of one block of consecutive non-empty lines.

    A line break joins two lines when the text goes on across it: the line does not end a
    sentence and the next one starts with a lowercase word or closing punctuation, the line
    ends with an opening quote or bracket, one of them is a fragment of a few words, or the
    block is hard-wrapped (then only a short line that ends a sentence ends a paragraph).
    """
    if len(lines) < 2:
        return list(lines)
    wrapped = is_hard_wrapped(lines)
    width = max(len(line) for line in lines)
    paragraphs = [lines[0]]
    for index, line in enumerate(lines[1:], start=1):
        previous = paragraphs[-1]
        last = lines[index - 1]
        done = _ends_a_sentence(last)
        if wrapped:
            title_like = (index == 1 and not done and not last.endswith((",", ";"))
                          and not _continues(line)
                          and (len(last) < 0.6 * width or _title_case(last)))
            join = not title_like and (not done or len(last) >= 0.85 * width)
        else:
            join = not done and (
                _continues(line) or last.endswith(tuple(_OPENING))
                or (_fragment(last) and len(lines) > 2 and index > 1)
                or (_fragment(line) and index + 1 < len(lines) and len(lines) > 3))
        if join:
            glue = "" if last.endswith(tuple(_OPENING)) or line[0] in _CONTINUING else " "
            paragraphs[-1] = previous + glue + line
        else:
            paragraphs.append(line)
    return paragraphs


def split_lede(paragraph: str) -> list[str]:
    """A lede whose end is unknown: its first sentence (two if the first is short), then the
    rest as one paragraph."""
    sentences = split_sentences(paragraph)
    size = 2 if sentences and len(sentences[0]) < SHORT_SENTENCE else 1
    if len(sentences) <= size:
        return [paragraph]
    return [" ".join(sentences[:size]), " ".join(sentences[size:])]


def split_run_on(paragraph: str) -> list[str]:
    """A story written as one paragraph, cut into paragraphs of whole sentences.

    The first paragraph (the lede) is the first sentence, or the first two when the first is
    shorter than :data:`SHORT_SENTENCE` characters; the rest come in groups of
    :data:`RUN_ON_SENTENCES` sentences.
    """
    sentences = split_sentences(paragraph)
    if len(sentences) < 3 or len(paragraph) < RUN_ON_MIN:
        return [paragraph]
    lede_size = 2 if len(sentences[0]) < SHORT_SENTENCE else 1
    paragraphs = [" ".join(sentences[:lede_size])]
    rest = sentences[lede_size:]
    for start in range(0, len(rest), RUN_ON_SENTENCES):
        paragraphs.append(" ".join(rest[start:start + RUN_ON_SENTENCES]))
    return paragraphs


def stands_alone(line: str) -> bool:
    """True for a line that is never part of a paragraph: furniture, a read-also line, a
    credit line or byline, a dateline alone on its line."""
    return (is_furniture(line) or related_line(line) is not None
            or credit_line(line) is not None or byline(line) is not None
            or is_dateline_line(line))


def reflow_lines(lines: list[str]) -> list[str]:
    """The paragraphs of a block of lines: lines that stand alone stay, the runs of text
    between them are joined where the text goes on (:func:`join_lines`)."""
    paragraphs: list[str] = []
    run: list[str] = []
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if stands_alone(line):
            paragraphs.extend(join_lines(run))
            run = []
            paragraphs.append(line)
        else:
            run.append(line)
    paragraphs.extend(join_lines(run))
    return paragraphs
