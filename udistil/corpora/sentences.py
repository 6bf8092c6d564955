"""A seeded generator of grammatical English sentences (a small phrase-structure grammar), and the split of the
sentence space that keeps the training pools' sentences out of every evaluation split."""

from __future__ import annotations

import random
import zlib

from udistil.corpora import POOL_SPLIT

NOUNS = """
actor animal apple artist baby baker bird boat book bottle boy bread bridge brother bus cake camera captain
car castle cat chair child city clock cloud coach coat cook cousin cow dancer daughter doctor dog dragon
driver drum duck eagle engine farmer father fish flower friend garden girl glass goat guard guitar hammer
hat horse hunter island jacket judge key king kitten lamp lawyer leader letter lion machine manager map
mayor merchant monkey mother mountain mouse musician neighbor nurse officer painter parrot pencil phone
photo piano pilot player poet president prince princess queen rabbit radio river robot sailor scientist
shepherd ship singer sister soldier stranger student tailor teacher tiger train traveler tree truck uncle
village violin visitor waiter watch whale window wizard wolf writer
""".split()

PLACES = """
airport bakery beach cafe cave church cinema desert factory farm forest harbor hospital hotel kitchen
library market museum office palace park prison restaurant school station stadium street temple theater
tower valley
""".split()

ADJECTIVES = """
angry ancient beautiful big bitter black blue brave bright broken busy calm careful cheap clean clever cold
curious dark deep dirty dry early empty famous fast fierce foolish friendly funny gentle giant golden good
green grey happy heavy honest hungry huge kind large late lazy little lonely loud lucky modern narrow new
nervous noisy old orange patient polite poor proud purple quick quiet rare red rich rough round rusty sad
shiny short silent silver simple slow small smart soft strange strong sweet tall tiny tired ugly warm weak
wet white wild wise wooden yellow young
""".split()

TRANSITIVE = """
admired answered asked baked borrowed bought brought built called carried caught chased cleaned climbed
cooked copied counted covered crossed delivered described discovered drew dropped enjoyed examined fed
fixed followed found greeted guarded heard helped hid invited kicked kissed knew lifted liked lost loved
met moved noticed opened painted passed photographed picked played pulled pushed reached read remembered
repaired saved saw sent shared showed sold splashed stole studied surprised taught thanked touched
trusted visited wanted warned washed watched wrote
""".split()

INTRANSITIVE = """
arrived cried danced disappeared laughed left listened lived paused prayed rested ran sang shouted slept
smiled sneezed spoke stayed stopped swam trembled waited walked whispered won worked yawned
""".split()

ADVERBS = """
angrily badly bravely calmly carefully cheerfully clearly eagerly easily gently gladly happily honestly
kindly loudly madly nervously openly patiently politely proudly quickly quietly rapidly rarely sadly
safely secretly silently slowly softly suddenly swiftly warmly wildly
""".split()

PREPOSITIONS = "near behind inside outside beside above below across through around toward".split()
TIMES = """
yesterday today tonight later again recently finally afterwards
""".split() + [
    "last night", "this morning", "every day", "after lunch", "before dinner", "on monday", "on friday",
    "in the evening", "in the afternoon", "last winter", "next summer", "at noon", "at midnight",
]
NUMBERS = "two three four five six seven eight nine ten twelve twenty".split()
DETERMINERS = ["the", "a", "my", "your", "our", "their", "this", "that", "every", "one"]
CONJUNCTIONS = ["and", "but", "while", "because", "so", "although", "when"]
SUBJECT_PRONOUNS = ["he", "she", "they", "we", "i", "you"]


IRREGULAR_PLURALS = {"child": "children", "mouse": "mice", "fish": "fish", "wolf": "wolves", "knife": "knives"}


def plural(noun: str) -> str:
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def vocabulary() -> set[str]:
    """Every word the grammar can emit."""
    phrases = (NOUNS + PLACES + ADJECTIVES + TRANSITIVE + INTRANSITIVE + ADVERBS + PREPOSITIONS + TIMES
               + NUMBERS + DETERMINERS + CONJUNCTIONS + SUBJECT_PRONOUNS + ["the", "to", "went", "in"])
    return {w for p in phrases for w in p.split()} | {plural(n) for n in NOUNS}


class SentenceGenerator:
    """Generate sentences from a seeded grammar; the same seed gives the same sequence."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def _pick(self, words: list[str]) -> str:
        return self.rng.choice(words)

    def noun_phrase(self) -> str:
        r = self.rng.random()
        if r < 0.15:
            return f"{self._pick(NUMBERS)} {self._pick(ADJECTIVES)} {plural(self._pick(NOUNS))}"
        adjective = f"{self._pick(ADJECTIVES)} " if r < 0.7 else ""
        det = self._pick(DETERMINERS)
        noun = f"{adjective}{self._pick(NOUNS)}"
        if det == "a" and noun[0] in "aeiou":
            det = "an"
        return f"{det} {noun}"

    def subject(self) -> str:
        return self._pick(SUBJECT_PRONOUNS) if self.rng.random() < 0.2 else self.noun_phrase()

    def place(self) -> str:
        return f"{self._pick(PREPOSITIONS)} the {self._pick(PLACES)}"

    def clause(self) -> str:
        if self.rng.random() < 0.6:
            parts = [self.subject(), self._pick(TRANSITIVE), self.noun_phrase()]
        else:
            parts = [self.subject(), self._pick(INTRANSITIVE)]
        if self.rng.random() < 0.35:
            parts.append(self._pick(ADVERBS))
        if self.rng.random() < 0.4:
            parts.append(self.place())
        if self.rng.random() < 0.3:
            parts.append(self._pick(TIMES))
        return " ".join(parts)

    def sentence(self) -> str:
        text = self.clause()
        if self.rng.random() < 0.3:
            text = f"{text} {self._pick(CONJUNCTIONS)} {self.clause()}"
        return text[0].upper() + text[1:] + "."


HELD_OUT_ONE_IN = 8
"""One sentence in eight (by a fixed hash of its words) is held out for the evaluation splits: the pool never
says it, and an evaluation split says nothing else, so no sentence is in both at any size."""


def held_out(sentence: str) -> bool:
    """Whether a sentence belongs to the evaluation side of the sentence space (case and final stop ignored)."""
    words = " ".join(sentence.lower().rstrip(".").split())
    return zlib.crc32(words.encode()) % HELD_OUT_ONE_IN == 0


class SplitSentences:
    """The sentences of one split, from its side of the sentence space: `main`'s sequence, with each sentence of
    the other side replaced by the next sentence of the right side from a second generator (`spare`), so a
    split keeps every sentence of `main` that was already on its side."""

    def __init__(self, seed: int, spare_seed: int, split: str):
        self.main, self.spare = SentenceGenerator(seed), SentenceGenerator(spare_seed)
        self.evaluation = split != POOL_SPLIT

    def sentence(self) -> str:
        text = self.main.sentence()
        while held_out(text) != self.evaluation:
            text = self.spare.sentence()
        return text
