"""Is there English in what a Spanish reader is sent? The words of ours a message could carry in
English by mistake (a template left untranslated, a day name, "your loved one", a footer), and the
common English words any sentence has, less those Spanish shares ("a", "no", "me", "crisis", "plan", "pause")
and "clinic", which the test clinics are named ("Clinic 3")."""

import re

ENGLISH = frozenset(
    """
    the and you your yours to of for we our us will would should could is are was were be been have has had
    this that these those with from into about after before when what how why who which there here they them
    their it its if or but not don't can can't just now then than also only more most less very
    reply replies text texts texting message messages thanks thank please hi hello welcome got questions
    tip tips today tomorrow tonight morning evening afternoon night day days week weekly daily time
    ride drive driving home loved one appointment appointments session email emails change paused
    unsubscribe unsubscribed subscribed preferences settings helpful helped help stop start yes safety
    call emergency someone anyone danger told get gets getting keep kept
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    am pm hour hours minutes minute an in on at by up out off
    """.split()  # noqa: SIM905 - a word list, read as one
)
_LINK = re.compile(r"https?://\S+|\S+@\S+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")  # letters of any alphabet: "anímele" is one word
# Ours, and the same in every language: the brand, and the keywords a Spanish text may name
# because every phone company honours them (ENGLISH switches the language back).
ALLOWED = frozenset({"alongside", "english"})


def english_words(text: str) -> list[str]:
    """The English words in `text`, in order (empty when there are none)."""
    words = _WORD.findall(_LINK.sub(" ", text or ""))
    return [w for w in words if w.lower() in ENGLISH and w.lower() not in ALLOWED]
