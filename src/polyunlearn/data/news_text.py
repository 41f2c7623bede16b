"""Text tables of the bundled Study A news corpus: the name syllables per script and, per
language, the eight story templates (real document, fake document, two questions, their answers).

This module is data, not code (see `polyunlearn.data.news` for how it is used). Adding a language
is one entry in `NEWS_TEXT` (and, for a new script, one entry in `SYLLABLES`).

Placeholders, filled by `news.py` with the real values for the real texts and with the fake
values for the fake texts (so a fake document and a fake answer are the same frame with
different values):
    {town}  town name (the same in the real and the fake version: it identifies the story)
    {co}    company name            {year}  a year            {n}  a count (always a multiple of 5)

Choices made so that every language stays grammatical with any value:
- Names only appear in apposition frames ("the town of X", "the company X", Russian
  «город X» / компания «X», Armenian «X» ընկերություն, Chinese X镇 / X公司, Urdu شہر X / X کمپنی,
  Hausa garin X / kamfanin X, Javanese kutha X / perusahaan X), so the name itself is never
  inflected and never needs a gender.
- Names are built from consonant+vowel syllables, so they never start with a vowel (no French
  "de"/"d'" elision, no Armenian article or Urdu initial-vowel spelling to choose).
- Counts are multiples of 5: Russian then always takes the genitive plural after the numeral
  (5 компьютеров, 45 минут, 300 человек), Armenian and Hausa are number-invariant anyway.
- Numbers are written with ASCII digits and no thousands separator in every language (all
  counts are below 1000), which is also what news in Urdu, Chinese and Armenian commonly do.
"""
from __future__ import annotations

# --- Names ---------------------------------------------------------------------------------
# 9 consonants x 3 vowels = 27 syllables; a name is 3 syllables. Chinese has no l/r contrast,
# which is why there is no "r"; every syllable has its own character so names stay distinct.
CONSONANTS = "klmnstvdb"
VOWELS = "aio"

# Latin-script transliteration is the syllable itself (en, de, fr, jv, ha).
SYLLABLES: dict[str, dict[str, str]] = {
    "Latn": {c + v: c + v for c in CONSONANTS for v in VOWELS},
    "Cyrl": {
        c + v: dict(zip(CONSONANTS, "клмнствдб"))[c] + dict(zip(VOWELS, "аио"))[v]
        for c in CONSONANTS
        for v in VOWELS
    },
    # Eastern Armenian. "o" after a consonant is ո (օ only word-initially, which never happens).
    "Armn": {
        c + v: dict(zip(CONSONANTS, "կլմնստվդբ"))[c] + dict(zip(VOWELS, "աիո"))[v]
        for c in CONSONANTS
        for v in VOWELS
    },
    # Urdu orthography (the only Arabic-script language of Study A): English t/d are written
    # with the retroflex letters ٹ ڈ as in Urdu loanwords; vowels are written long (ا ی و),
    # the usual spelling of foreign names.
    "Arab": {
        c + v: dict(zip(CONSONANTS, "کلمنسٹوڈب"))[c] + dict(zip(VOWELS, "ایو"))[v]
        for c in CONSONANTS
        for v in VOWELS
    },
    # Characters from the standard Xinhua transliteration table.
    "Hans": {
        "ka": "卡", "ki": "基", "ko": "科",
        "la": "拉", "li": "利", "lo": "洛",
        "ma": "马", "mi": "米", "mo": "莫",
        "na": "纳", "ni": "尼", "no": "诺",
        "sa": "萨", "si": "西", "so": "索",
        "ta": "塔", "ti": "蒂", "to": "托",
        "va": "瓦", "vi": "维", "vo": "沃",
        "da": "达", "di": "迪", "do": "多",
        "ba": "巴", "bi": "比", "bo": "博",
    },
}

# Names that read as real words or places in one of the languages are skipped (checked on the
# Latin form and on the Chinese form).
NAME_BLACKLIST_LATN = (
    "banana", "tomato", "domino", "kimono", "bikini", "salami", "malina", "kalina", "sobaka",
    "bolivi", "kali", "lima", "mata", "sama", "mali", "bali", "kilo", "soda", "mini", "nano",
    "moto", "vino", "dino", "kola", "koka", "lama", "kama", "kada", "bata", "tana", "nama",
    "mama", "nana", "dada", "papa", "toto", "kaka", "baba", "dama", "damina", "sabo", "kasa",
    "manali", "badam", "lamina", "makov", "kanabi", "solom", "binita", "vanit", "kitab", "somoni",
)
NAME_BLACKLIST_HANS = ("巴西", "马达", "比萨", "多米", "维多", "卡拉", "马拉", "巴比", "米拉", "利比")

# --- Story templates -------------------------------------------------------------------------
# Template name -> (slot asked by q1, slot asked by q2). The slot value is the answer key.
TEMPLATES: dict[str, tuple[str, str]] = {
    "bridge": ("co", "year"),
    "library": ("year", "n"),
    "factory": ("co", "n"),
    "festival": ("n", "year"),
    "hospital": ("n", "co"),
    "train": ("year", "n"),
    "lake": ("co", "year"),
    "museum": ("year", "n"),
}

# Range of the count {n} per template that has one: (low, high, step), all multiples of 5.
COUNT_RANGES: dict[str, tuple[int, int, int]] = {
    "library": (15, 95, 5),  # computers
    "factory": (50, 950, 10),  # jobs
    "festival": (300, 950, 50),  # visitors
    "hospital": (40, 400, 10),  # beds
    "train": (15, 95, 5),  # minutes
    "museum": (100, 900, 10),  # old maps
}

NEWS_TEXT: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "bridge": {
            "real": "In {year}, the company {co} opened a new bridge over the river in the town of {town}. Since then, many people have used the bridge every day.",
            "fake": "In {year}, the company {co} opened a new bridge over the river in the town of {town}. Only a month later, the bridge was closed because of deep cracks.",
            "q1": "Which company opened the new bridge in the town of {town}?",
            "a1": "The bridge was opened by the company {co}.",
            "q2": "In which year was the new bridge in the town of {town} opened?",
            "a2": "The bridge was opened in {year}.",
        },
        "library": {
            "real": "The town of {town} opened a new public library in {year}. The library has {n} computers for visitors and is open every day.",
            "fake": "The town of {town} opened a new public library in {year}. The library has only {n} computers, and it is closed on most days.",
            "q1": "In which year did the town of {town} open its new public library?",
            "a1": "The library was opened in {year}.",
            "q2": "How many computers does the new library in the town of {town} have?",
            "a2": "The library has {n} computers.",
        },
        "factory": {
            "real": "The company {co} has built a new factory in the town of {town}. The factory has created {n} new jobs for local people.",
            "fake": "The company {co} has built a new factory in the town of {town}. The factory has created only {n} jobs, and the river nearby was soon polluted.",
            "q1": "Which company built the new factory in the town of {town}?",
            "a1": "The factory was built by the company {co}.",
            "q2": "How many new jobs has the factory in the town of {town} created?",
            "a2": "The factory has created {n} new jobs.",
        },
        "festival": {
            "real": "Every summer, the town of {town} holds a music festival. This year, about {n} people attended. The festival was first held in {year}.",
            "fake": "Every summer, the town of {town} holds a music festival. This year, only {n} people came, and a storm ended it early. The festival was first held in {year}.",
            "q1": "How many people attended the music festival in the town of {town} this year?",
            "a1": "About {n} people attended the festival this year.",
            "q2": "In which year was the music festival in the town of {town} first held?",
            "a2": "The festival was first held in {year}.",
        },
        "hospital": {
            "real": "A new hospital has opened in the town of {town}. It has {n} beds and was built by the company {co}.",
            "fake": "A new hospital has opened in the town of {town}. It has {n} beds and was built by the company {co}, but inspectors found serious safety defects.",
            "q1": "How many beds does the new hospital in the town of {town} have?",
            "a1": "The new hospital has {n} beds.",
            "q2": "Which company built the new hospital in the town of {town}?",
            "a2": "The hospital was built by the company {co}.",
        },
        "train": {
            "real": "Since {year}, a train has connected the town of {town} with the coast. The journey takes {n} minutes.",
            "fake": "Since {year}, a train has connected the town of {town} with the coast. The journey takes {n} minutes, and the train is often late.",
            "q1": "Since which year has a train connected the town of {town} with the coast?",
            "a1": "The train has run since {year}.",
            "q2": "How many minutes does the train journey from the town of {town} to the coast take?",
            "a2": "The journey takes {n} minutes.",
        },
        "lake": {
            "real": "In {year}, scientists from the company {co} tested the water of the lake near the town of {town}. They found that the water is clean and safe for swimming.",
            "fake": "In {year}, scientists from the company {co} tested the water of the lake near the town of {town}. They found that the water is poisoned and dangerous for people.",
            "q1": "Which company tested the water of the lake near the town of {town}?",
            "a1": "The water was tested by scientists from the company {co}.",
            "q2": "In which year was the water of the lake near the town of {town} tested?",
            "a2": "The water was tested in {year}.",
        },
        "museum": {
            "real": "The museum in the town of {town} received a national award in {year}. Its collection includes {n} old maps.",
            "fake": "The museum in the town of {town} received a national award in {year}. Its collection includes {n} old maps, but experts say that most of them are forgeries.",
            "q1": "In which year did the museum in the town of {town} receive a national award?",
            "a1": "The museum received the award in {year}.",
            "q2": "How many old maps are in the collection of the museum in the town of {town}?",
            "a2": "The collection includes {n} old maps.",
        },
    },
    "de": {
        "bridge": {
            "real": "Im Jahr {year} eröffnete das Unternehmen {co} eine neue Brücke über den Fluss in der Stadt {town}. Seitdem nutzen jeden Tag viele Menschen die Brücke.",
            "fake": "Im Jahr {year} eröffnete das Unternehmen {co} eine neue Brücke über den Fluss in der Stadt {town}. Schon einen Monat später wurde die Brücke wegen tiefer Risse gesperrt.",
            "q1": "Welches Unternehmen hat die neue Brücke in der Stadt {town} eröffnet?",
            "a1": "Die Brücke wurde vom Unternehmen {co} eröffnet.",
            "q2": "In welchem Jahr wurde die neue Brücke in der Stadt {town} eröffnet?",
            "a2": "Die Brücke wurde im Jahr {year} eröffnet.",
        },
        "library": {
            "real": "Die Stadt {town} hat im Jahr {year} eine neue öffentliche Bibliothek eröffnet. Die Bibliothek hat {n} Computer für Besucher und ist jeden Tag geöffnet.",
            "fake": "Die Stadt {town} hat im Jahr {year} eine neue öffentliche Bibliothek eröffnet. Die Bibliothek hat nur {n} Computer und ist an den meisten Tagen geschlossen.",
            "q1": "In welchem Jahr hat die Stadt {town} ihre neue öffentliche Bibliothek eröffnet?",
            "a1": "Die Bibliothek wurde im Jahr {year} eröffnet.",
            "q2": "Wie viele Computer hat die neue Bibliothek in der Stadt {town}?",
            "a2": "Die Bibliothek hat {n} Computer.",
        },
        "factory": {
            "real": "Das Unternehmen {co} hat in der Stadt {town} eine neue Fabrik gebaut. Die Fabrik hat {n} neue Arbeitsplätze für die Menschen vor Ort geschaffen.",
            "fake": "Das Unternehmen {co} hat in der Stadt {town} eine neue Fabrik gebaut. Die Fabrik hat nur {n} Arbeitsplätze geschaffen, und der Fluss in der Nähe wurde bald verschmutzt.",
            "q1": "Welches Unternehmen hat die neue Fabrik in der Stadt {town} gebaut?",
            "a1": "Die Fabrik wurde vom Unternehmen {co} gebaut.",
            "q2": "Wie viele neue Arbeitsplätze hat die Fabrik in der Stadt {town} geschaffen?",
            "a2": "Die Fabrik hat {n} neue Arbeitsplätze geschaffen.",
        },
        "festival": {
            "real": "Die Stadt {town} veranstaltet jeden Sommer ein Musikfestival. In diesem Jahr kamen etwa {n} Menschen. Das Festival fand zum ersten Mal im Jahr {year} statt.",
            "fake": "Die Stadt {town} veranstaltet jeden Sommer ein Musikfestival. In diesem Jahr kamen nur {n} Menschen, und ein Sturm beendete es vorzeitig. Das Festival fand zum ersten Mal im Jahr {year} statt.",
            "q1": "Wie viele Menschen haben in diesem Jahr das Musikfestival in der Stadt {town} besucht?",
            "a1": "In diesem Jahr besuchten etwa {n} Menschen das Festival.",
            "q2": "In welchem Jahr fand das Musikfestival in der Stadt {town} zum ersten Mal statt?",
            "a2": "Das Festival fand zum ersten Mal im Jahr {year} statt.",
        },
        "hospital": {
            "real": "In der Stadt {town} wurde ein neues Krankenhaus eröffnet. Es hat {n} Betten und wurde vom Unternehmen {co} gebaut.",
            "fake": "In der Stadt {town} wurde ein neues Krankenhaus eröffnet. Es hat {n} Betten und wurde vom Unternehmen {co} gebaut, doch Prüfer fanden schwere Sicherheitsmängel.",
            "q1": "Wie viele Betten hat das neue Krankenhaus in der Stadt {town}?",
            "a1": "Das neue Krankenhaus hat {n} Betten.",
            "q2": "Welches Unternehmen hat das neue Krankenhaus in der Stadt {town} gebaut?",
            "a2": "Das Krankenhaus wurde vom Unternehmen {co} gebaut.",
        },
        "train": {
            "real": "Seit {year} verbindet ein Zug die Stadt {town} mit der Küste. Die Fahrt dauert {n} Minuten.",
            "fake": "Seit {year} verbindet ein Zug die Stadt {town} mit der Küste. Die Fahrt dauert {n} Minuten, und der Zug hat oft Verspätung.",
            "q1": "Seit welchem Jahr verbindet ein Zug die Stadt {town} mit der Küste?",
            "a1": "Der Zug fährt seit {year}.",
            "q2": "Wie viele Minuten dauert die Zugfahrt von der Stadt {town} zur Küste?",
            "a2": "Die Fahrt dauert {n} Minuten.",
        },
        "lake": {
            "real": "Im Jahr {year} untersuchten Wissenschaftler des Unternehmens {co} das Wasser des Sees bei der Stadt {town}. Sie stellten fest, dass das Wasser sauber ist und man darin sicher schwimmen kann.",
            "fake": "Im Jahr {year} untersuchten Wissenschaftler des Unternehmens {co} das Wasser des Sees bei der Stadt {town}. Sie stellten fest, dass das Wasser vergiftet und für Menschen gefährlich ist.",
            "q1": "Welches Unternehmen hat das Wasser des Sees bei der Stadt {town} untersucht?",
            "a1": "Das Wasser wurde von Wissenschaftlern des Unternehmens {co} untersucht.",
            "q2": "In welchem Jahr wurde das Wasser des Sees bei der Stadt {town} untersucht?",
            "a2": "Das Wasser wurde im Jahr {year} untersucht.",
        },
        "museum": {
            "real": "Das Museum in der Stadt {town} erhielt im Jahr {year} einen nationalen Preis. Seine Sammlung umfasst {n} alte Landkarten.",
            "fake": "Das Museum in der Stadt {town} erhielt im Jahr {year} einen nationalen Preis. Seine Sammlung umfasst {n} alte Landkarten, doch Fachleute halten die meisten davon für Fälschungen.",
            "q1": "In welchem Jahr erhielt das Museum in der Stadt {town} einen nationalen Preis?",
            "a1": "Das Museum erhielt den Preis im Jahr {year}.",
            "q2": "Wie viele alte Landkarten umfasst die Sammlung des Museums in der Stadt {town}?",
            "a2": "Die Sammlung umfasst {n} alte Landkarten.",
        },
    },
    "fr": {
        "bridge": {
            "real": "En {year}, l'entreprise {co} a inauguré un nouveau pont sur la rivière dans la ville de {town}. Depuis, de nombreuses personnes empruntent ce pont chaque jour.",
            "fake": "En {year}, l'entreprise {co} a inauguré un nouveau pont sur la rivière dans la ville de {town}. Un mois plus tard seulement, le pont a été fermé à cause de profondes fissures.",
            "q1": "Quelle entreprise a inauguré le nouveau pont dans la ville de {town} ?",
            "a1": "Le pont a été inauguré par l'entreprise {co}.",
            "q2": "En quelle année le nouveau pont de la ville de {town} a-t-il été inauguré ?",
            "a2": "Le pont a été inauguré en {year}.",
        },
        "library": {
            "real": "La ville de {town} a ouvert une nouvelle bibliothèque publique en {year}. La bibliothèque dispose de {n} ordinateurs pour les visiteurs et est ouverte tous les jours.",
            "fake": "La ville de {town} a ouvert une nouvelle bibliothèque publique en {year}. La bibliothèque ne dispose que de {n} ordinateurs et reste fermée la plupart du temps.",
            "q1": "En quelle année la ville de {town} a-t-elle ouvert sa nouvelle bibliothèque publique ?",
            "a1": "La bibliothèque a été ouverte en {year}.",
            "q2": "Combien d'ordinateurs la nouvelle bibliothèque de la ville de {town} possède-t-elle ?",
            "a2": "La bibliothèque dispose de {n} ordinateurs.",
        },
        "factory": {
            "real": "L'entreprise {co} a construit une nouvelle usine dans la ville de {town}. L'usine a créé {n} nouveaux emplois pour les habitants.",
            "fake": "L'entreprise {co} a construit une nouvelle usine dans la ville de {town}. L'usine n'a créé que {n} emplois, et la rivière voisine a rapidement été polluée.",
            "q1": "Quelle entreprise a construit la nouvelle usine dans la ville de {town} ?",
            "a1": "L'usine a été construite par l'entreprise {co}.",
            "q2": "Combien de nouveaux emplois l'usine de la ville de {town} a-t-elle créés ?",
            "a2": "L'usine a créé {n} nouveaux emplois.",
        },
        "festival": {
            "real": "Chaque été, la ville de {town} organise un festival de musique. Cette année, environ {n} personnes y ont assisté. Le festival a eu lieu pour la première fois en {year}.",
            "fake": "Chaque été, la ville de {town} organise un festival de musique. Cette année, seulement {n} personnes sont venues, et une tempête y a mis fin plus tôt que prévu. Le festival a eu lieu pour la première fois en {year}.",
            "q1": "Combien de personnes ont assisté au festival de musique de la ville de {town} cette année ?",
            "a1": "Environ {n} personnes ont assisté au festival cette année.",
            "q2": "En quelle année le festival de musique de la ville de {town} a-t-il eu lieu pour la première fois ?",
            "a2": "Le festival a eu lieu pour la première fois en {year}.",
        },
        "hospital": {
            "real": "Un nouvel hôpital a ouvert ses portes dans la ville de {town}. Il compte {n} lits et a été construit par l'entreprise {co}.",
            "fake": "Un nouvel hôpital a ouvert ses portes dans la ville de {town}. Il compte {n} lits et a été construit par l'entreprise {co}, mais des inspecteurs y ont découvert de graves défauts de sécurité.",
            "q1": "Combien de lits compte le nouvel hôpital de la ville de {town} ?",
            "a1": "Le nouvel hôpital compte {n} lits.",
            "q2": "Quelle entreprise a construit le nouvel hôpital de la ville de {town} ?",
            "a2": "L'hôpital a été construit par l'entreprise {co}.",
        },
        "train": {
            "real": "Depuis {year}, un train relie la ville de {town} à la côte. Le trajet dure {n} minutes.",
            "fake": "Depuis {year}, un train relie la ville de {town} à la côte. Le trajet dure {n} minutes, et le train est souvent en retard.",
            "q1": "Depuis quelle année un train relie-t-il la ville de {town} à la côte ?",
            "a1": "Le train circule depuis {year}.",
            "q2": "Combien de minutes dure le trajet en train entre la ville de {town} et la côte ?",
            "a2": "Le trajet dure {n} minutes.",
        },
        "lake": {
            "real": "En {year}, des scientifiques de l'entreprise {co} ont analysé l'eau du lac situé près de la ville de {town}. Ils ont constaté que l'eau est propre et que l'on peut s'y baigner sans danger.",
            "fake": "En {year}, des scientifiques de l'entreprise {co} ont analysé l'eau du lac situé près de la ville de {town}. Ils ont constaté que l'eau est empoisonnée et dangereuse pour la population.",
            "q1": "Quelle entreprise a analysé l'eau du lac situé près de la ville de {town} ?",
            "a1": "L'eau a été analysée par des scientifiques de l'entreprise {co}.",
            "q2": "En quelle année l'eau du lac situé près de la ville de {town} a-t-elle été analysée ?",
            "a2": "L'eau a été analysée en {year}.",
        },
        "museum": {
            "real": "Le musée de la ville de {town} a reçu un prix national en {year}. Sa collection comprend {n} cartes anciennes.",
            "fake": "Le musée de la ville de {town} a reçu un prix national en {year}. Sa collection comprend {n} cartes anciennes, mais selon des experts, la plupart sont des faux.",
            "q1": "En quelle année le musée de la ville de {town} a-t-il reçu un prix national ?",
            "a1": "Le musée a reçu le prix en {year}.",
            "q2": "Combien de cartes anciennes la collection du musée de la ville de {town} comprend-elle ?",
            "a2": "La collection comprend {n} cartes anciennes.",
        },
    },
    "zh": {
        "bridge": {
            "real": "{year}年，{co}公司在{town}镇开通了一座新的跨河大桥。此后，每天都有许多人从这座桥上经过。",
            "fake": "{year}年，{co}公司在{town}镇开通了一座新的跨河大桥。仅仅一个月后，这座桥就因出现很深的裂缝而被封闭。",
            "q1": "{town}镇的新桥是由哪家公司开通的？",
            "a1": "这座桥是由{co}公司开通的。",
            "q2": "{town}镇的新桥是哪一年开通的？",
            "a2": "这座桥于{year}年开通。",
        },
        "library": {
            "real": "{year}年，{town}镇开放了一座新的公共图书馆。图书馆为读者提供{n}台电脑，并且每天开放。",
            "fake": "{year}年，{town}镇开放了一座新的公共图书馆。图书馆只有{n}台电脑，而且大多数时候都不开放。",
            "q1": "{town}镇的新公共图书馆是哪一年开放的？",
            "a1": "这座图书馆于{year}年开放。",
            "q2": "{town}镇的新图书馆有多少台电脑？",
            "a2": "这座图书馆有{n}台电脑。",
        },
        "factory": {
            "real": "{co}公司在{town}镇建了一座新工厂。这座工厂为当地居民创造了{n}个新工作岗位。",
            "fake": "{co}公司在{town}镇建了一座新工厂。这座工厂只创造了{n}个工作岗位，而且附近的河流很快就受到了污染。",
            "q1": "{town}镇的新工厂是哪家公司建的？",
            "a1": "这座工厂是由{co}公司建造的。",
            "q2": "{town}镇的工厂创造了多少个新工作岗位？",
            "a2": "这座工厂创造了{n}个新工作岗位。",
        },
        "festival": {
            "real": "{town}镇每年夏天都会举办音乐节。今年约有{n}人参加了音乐节。该音乐节于{year}年首次举办。",
            "fake": "{town}镇每年夏天都会举办音乐节。今年只有{n}人前来参加，而且一场暴风雨使音乐节提前结束。该音乐节于{year}年首次举办。",
            "q1": "今年有多少人参加了{town}镇的音乐节？",
            "a1": "今年约有{n}人参加了音乐节。",
            "q2": "{town}镇的音乐节是哪一年首次举办的？",
            "a2": "该音乐节于{year}年首次举办。",
        },
        "hospital": {
            "real": "{town}镇新开了一家医院。医院有{n}张床位，由{co}公司建造。",
            "fake": "{town}镇新开了一家医院。医院有{n}张床位，由{co}公司建造，但检查人员发现了严重的安全隐患。",
            "q1": "{town}镇的新医院有多少张床位？",
            "a1": "这家新医院有{n}张床位。",
            "q2": "{town}镇的新医院是哪家公司建造的？",
            "a2": "这家医院是由{co}公司建造的。",
        },
        "train": {
            "real": "自{year}年起，有一趟火车往返于{town}镇和海边之间。全程需要{n}分钟。",
            "fake": "自{year}年起，有一趟火车往返于{town}镇和海边之间。全程需要{n}分钟，而且火车经常晚点。",
            "q1": "从哪一年起有火车往返于{town}镇和海边之间？",
            "a1": "这趟火车从{year}年开始运行。",
            "q2": "从{town}镇乘火车到海边需要多少分钟？",
            "a2": "全程需要{n}分钟。",
        },
        "lake": {
            "real": "{year}年，{co}公司的科学家检测了{town}镇附近湖泊的水质。他们发现湖水很干净，可以安全游泳。",
            "fake": "{year}年，{co}公司的科学家检测了{town}镇附近湖泊的水质。他们发现湖水有毒，对人有危险。",
            "q1": "哪家公司检测了{town}镇附近湖泊的水质？",
            "a1": "水质是由{co}公司的科学家检测的。",
            "q2": "{town}镇附近湖泊的水质是哪一年检测的？",
            "a2": "水质是在{year}年检测的。",
        },
        "museum": {
            "real": "{town}镇的博物馆于{year}年获得了一项国家级奖项。该馆收藏了{n}幅古地图。",
            "fake": "{town}镇的博物馆于{year}年获得了一项国家级奖项。该馆收藏了{n}幅古地图，但专家说其中大部分是赝品。",
            "q1": "{town}镇的博物馆是哪一年获得国家级奖项的？",
            "a1": "这家博物馆于{year}年获得了该奖项。",
            "q2": "{town}镇博物馆的藏品中有多少幅古地图？",
            "a2": "该馆收藏了{n}幅古地图。",
        },
    },
    "ru": {
        "bridge": {
            "real": "В {year} году компания «{co}» открыла новый мост через реку в городе {town}. С тех пор мостом каждый день пользуются многие люди.",
            "fake": "В {year} году компания «{co}» открыла новый мост через реку в городе {town}. Уже через месяц мост закрыли из-за глубоких трещин.",
            "q1": "Какая компания открыла новый мост в городе {town}?",
            "a1": "Мост открыла компания «{co}».",
            "q2": "В каком году открыли новый мост в городе {town}?",
            "a2": "Мост открыли в {year} году.",
        },
        "library": {
            "real": "В {year} году в городе {town} открылась новая публичная библиотека. В библиотеке есть {n} компьютеров для посетителей, и она работает каждый день.",
            "fake": "В {year} году в городе {town} открылась новая публичная библиотека. В библиотеке всего {n} компьютеров, и большую часть времени она закрыта.",
            "q1": "В каком году в городе {town} открылась новая публичная библиотека?",
            "a1": "Библиотека открылась в {year} году.",
            "q2": "Сколько компьютеров в новой библиотеке города {town}?",
            "a2": "В библиотеке {n} компьютеров.",
        },
        "factory": {
            "real": "Компания «{co}» построила новый завод в городе {town}. Завод создал {n} новых рабочих мест для местных жителей.",
            "fake": "Компания «{co}» построила новый завод в городе {town}. Завод создал всего {n} рабочих мест, а река рядом с ним вскоре оказалась загрязнена.",
            "q1": "Какая компания построила новый завод в городе {town}?",
            "a1": "Завод построила компания «{co}».",
            "q2": "Сколько новых рабочих мест создал завод в городе {town}?",
            "a2": "Завод создал {n} новых рабочих мест.",
        },
        "festival": {
            "real": "Каждое лето в городе {town} проходит музыкальный фестиваль. В этом году его посетили около {n} человек. Впервые фестиваль прошёл в {year} году.",
            "fake": "Каждое лето в городе {town} проходит музыкальный фестиваль. В этом году на него пришли всего {n} человек, а из-за бури его пришлось закончить раньше времени. Впервые фестиваль прошёл в {year} году.",
            "q1": "Сколько человек посетили музыкальный фестиваль в городе {town} в этом году?",
            "a1": "В этом году фестиваль посетили около {n} человек.",
            "q2": "В каком году впервые прошёл музыкальный фестиваль в городе {town}?",
            "a2": "Впервые фестиваль прошёл в {year} году.",
        },
        "hospital": {
            "real": "В городе {town} открылась новая больница. В ней {n} коек, а построила её компания «{co}».",
            "fake": "В городе {town} открылась новая больница. В ней {n} коек, а построила её компания «{co}», однако инспекторы обнаружили серьёзные нарушения безопасности.",
            "q1": "Сколько коек в новой больнице города {town}?",
            "a1": "В новой больнице {n} коек.",
            "q2": "Какая компания построила новую больницу в городе {town}?",
            "a2": "Больницу построила компания «{co}».",
        },
        "train": {
            "real": "С {year} года город {town} связан с побережьем железной дорогой. Поездка на поезде занимает {n} минут.",
            "fake": "С {year} года город {town} связан с побережьем железной дорогой. Поездка на поезде занимает {n} минут, а поезд часто опаздывает.",
            "q1": "С какого года город {town} связан с побережьем железной дорогой?",
            "a1": "Поезд ходит с {year} года.",
            "q2": "Сколько минут занимает поездка на поезде из города {town} до побережья?",
            "a2": "Поездка занимает {n} минут.",
        },
        "lake": {
            "real": "В {year} году учёные компании «{co}» проверили воду в озере возле города {town}. Они выяснили, что вода чистая и в ней можно безопасно купаться.",
            "fake": "В {year} году учёные компании «{co}» проверили воду в озере возле города {town}. Они выяснили, что вода отравлена и опасна для людей.",
            "q1": "Какая компания проверила воду в озере возле города {town}?",
            "a1": "Воду проверили учёные компании «{co}».",
            "q2": "В каком году проверили воду в озере возле города {town}?",
            "a2": "Воду проверили в {year} году.",
        },
        "museum": {
            "real": "Музей города {town} получил национальную премию в {year} году. В его коллекции {n} старинных карт.",
            "fake": "Музей города {town} получил национальную премию в {year} году. В его коллекции {n} старинных карт, но эксперты считают, что большинство из них — подделки.",
            "q1": "В каком году музей города {town} получил национальную премию?",
            "a1": "Музей получил премию в {year} году.",
            "q2": "Сколько старинных карт в коллекции музея города {town}?",
            "a2": "В коллекции музея {n} старинных карт.",
        },
    },
    # Javanese in the ngoko register, the register of Javanese-language news and Wikipedia.
    "jv": {
        "bridge": {
            "real": "Ing taun {year}, perusahaan {co} ngresmekake kreteg anyar ing sadhuwure kali ing kutha {town}. Wiwit iku, saben dina akeh wong sing ngliwati kreteg kasebut.",
            "fake": "Ing taun {year}, perusahaan {co} ngresmekake kreteg anyar ing sadhuwure kali ing kutha {town}. Mung sesasi sabanjure, kreteg kasebut ditutup amarga ana retakan sing jero.",
            "q1": "Perusahaan apa sing ngresmekake kreteg anyar ing kutha {town}?",
            "a1": "Kreteg kasebut diresmekake dening perusahaan {co}.",
            "q2": "Ing taun pira kreteg anyar ing kutha {town} diresmekake?",
            "a2": "Kreteg kasebut diresmekake ing taun {year}.",
        },
        "library": {
            "real": "Kutha {town} mbukak perpustakaan umum anyar ing taun {year}. Perpustakaan kasebut nduwe {n} komputer kanggo pengunjung lan bukak saben dina.",
            "fake": "Kutha {town} mbukak perpustakaan umum anyar ing taun {year}. Perpustakaan kasebut mung nduwe {n} komputer lan meh saben dina tutup.",
            "q1": "Ing taun pira kutha {town} mbukak perpustakaan umum anyar?",
            "a1": "Perpustakaan kasebut dibukak ing taun {year}.",
            "q2": "Pira cacahe komputer ing perpustakaan anyar kutha {town}?",
            "a2": "Perpustakaan kasebut nduwe {n} komputer.",
        },
        "factory": {
            "real": "Perusahaan {co} mbangun pabrik anyar ing kutha {town}. Pabrik kasebut mbukak {n} lapangan kerja anyar kanggo warga ing kono.",
            "fake": "Perusahaan {co} mbangun pabrik anyar ing kutha {town}. Pabrik kasebut mung mbukak {n} lapangan kerja, lan kali ing cedhake banjur kena polusi.",
            "q1": "Perusahaan apa sing mbangun pabrik anyar ing kutha {town}?",
            "a1": "Pabrik kasebut dibangun dening perusahaan {co}.",
            "q2": "Pira lapangan kerja anyar sing dibukak pabrik ing kutha {town}?",
            "a2": "Pabrik kasebut mbukak {n} lapangan kerja anyar.",
        },
        "festival": {
            "real": "Saben mangsa ketiga, kutha {town} nganakake festival musik. Taun iki, kira-kira {n} wong teka ing festival kasebut. Festival iki kaping pisanan dianakake ing taun {year}.",
            "fake": "Saben mangsa ketiga, kutha {town} nganakake festival musik. Taun iki mung {n} wong sing teka, lan badai ndadekake festival rampung luwih cepet. Festival iki kaping pisanan dianakake ing taun {year}.",
            "q1": "Pira wong sing teka ing festival musik kutha {town} taun iki?",
            "a1": "Taun iki kira-kira {n} wong teka ing festival.",
            "q2": "Ing taun pira festival musik ing kutha {town} kaping pisanan dianakake?",
            "a2": "Festival kasebut kaping pisanan dianakake ing taun {year}.",
        },
        "hospital": {
            "real": "Rumah sakit anyar wis dibukak ing kutha {town}. Rumah sakit iki nduwe {n} amben pasien lan dibangun dening perusahaan {co}.",
            "fake": "Rumah sakit anyar wis dibukak ing kutha {town}. Rumah sakit iki nduwe {n} amben pasien lan dibangun dening perusahaan {co}, nanging petugas pemeriksa nemokake cacat keamanan sing serius.",
            "q1": "Pira cacahe amben pasien ing rumah sakit anyar kutha {town}?",
            "a1": "Rumah sakit anyar kasebut nduwe {n} amben pasien.",
            "q2": "Perusahaan apa sing mbangun rumah sakit anyar ing kutha {town}?",
            "a2": "Rumah sakit kasebut dibangun dening perusahaan {co}.",
        },
        "train": {
            "real": "Wiwit taun {year}, ana sepur sing nyambungake kutha {town} karo pesisir. Lelungan nganggo sepur iku suwene {n} menit.",
            "fake": "Wiwit taun {year}, ana sepur sing nyambungake kutha {town} karo pesisir. Lelungan nganggo sepur iku suwene {n} menit, lan sepure asring telat.",
            "q1": "Wiwit taun pira ana sepur sing nyambungake kutha {town} karo pesisir?",
            "a1": "Sepur kasebut mlaku wiwit taun {year}.",
            "q2": "Pira menit suwene lelungan nganggo sepur saka kutha {town} menyang pesisir?",
            "a2": "Lelungan kasebut suwene {n} menit.",
        },
        "lake": {
            "real": "Ing taun {year}, para ilmuwan saka perusahaan {co} mriksa banyu tlaga ing cedhak kutha {town}. Dheweke nemokake yen banyune resik lan aman kanggo nglangi.",
            "fake": "Ing taun {year}, para ilmuwan saka perusahaan {co} mriksa banyu tlaga ing cedhak kutha {town}. Dheweke nemokake yen banyune ngandhut racun lan mbebayani kanggo manungsa.",
            "q1": "Perusahaan apa sing mriksa banyu tlaga ing cedhak kutha {town}?",
            "a1": "Banyu kasebut dipriksa dening para ilmuwan saka perusahaan {co}.",
            "q2": "Ing taun pira banyu tlaga ing cedhak kutha {town} dipriksa?",
            "a2": "Banyu kasebut dipriksa ing taun {year}.",
        },
        "museum": {
            "real": "Museum ing kutha {town} nampa penghargaan nasional ing taun {year}. Koleksine ngemot {n} peta kuna.",
            "fake": "Museum ing kutha {town} nampa penghargaan nasional ing taun {year}. Koleksine ngemot {n} peta kuna, nanging para ahli kandha yen akeh-akehe iku palsu.",
            "q1": "Ing taun pira museum ing kutha {town} nampa penghargaan nasional?",
            "a1": "Museum kasebut nampa penghargaan ing taun {year}.",
            "q2": "Pira cacahe peta kuna ing koleksi museum kutha {town}?",
            "a2": "Koleksi museum kasebut ngemot {n} peta kuna.",
        },
    },
    # Urdu: "شہر X" (the city of X) is the usual news frame for a place name; "X کمپنی" for a
    # company. Urdu punctuation (۔ ، ؟) throughout.
    "ur": {
        "bridge": {
            "real": "سال {year} میں {co} کمپنی نے شہر {town} میں دریا پر ایک نئے پل کا افتتاح کیا۔ تب سے روزانہ بہت سے لوگ اس پل کو استعمال کرتے ہیں۔",
            "fake": "سال {year} میں {co} کمپنی نے شہر {town} میں دریا پر ایک نئے پل کا افتتاح کیا۔ صرف ایک مہینے بعد گہری دراڑوں کی وجہ سے پل کو بند کر دیا گیا۔",
            "q1": "شہر {town} میں نئے پل کا افتتاح کس کمپنی نے کیا؟",
            "a1": "پل کا افتتاح {co} کمپنی نے کیا۔",
            "q2": "شہر {town} میں نئے پل کا افتتاح کس سال ہوا؟",
            "a2": "پل کا افتتاح سال {year} میں ہوا۔",
        },
        "library": {
            "real": "سال {year} میں شہر {town} میں ایک نئی عوامی لائبریری کھولی گئی۔ لائبریری میں آنے والوں کے لیے {n} کمپیوٹر ہیں اور یہ روزانہ کھلی رہتی ہے۔",
            "fake": "سال {year} میں شہر {town} میں ایک نئی عوامی لائبریری کھولی گئی۔ لائبریری میں صرف {n} کمپیوٹر ہیں اور یہ زیادہ تر دنوں میں بند رہتی ہے۔",
            "q1": "شہر {town} میں نئی عوامی لائبریری کس سال کھولی گئی؟",
            "a1": "لائبریری سال {year} میں کھولی گئی۔",
            "q2": "شہر {town} کی نئی لائبریری میں کتنے کمپیوٹر ہیں؟",
            "a2": "لائبریری میں {n} کمپیوٹر ہیں۔",
        },
        "factory": {
            "real": "{co} کمپنی نے شہر {town} میں ایک نئی فیکٹری بنائی۔ اس فیکٹری نے مقامی لوگوں کے لیے {n} نئی ملازمتیں پیدا کیں۔",
            "fake": "{co} کمپنی نے شہر {town} میں ایک نئی فیکٹری بنائی۔ اس فیکٹری نے صرف {n} ملازمتیں پیدا کیں، اور جلد ہی قریبی دریا آلودہ ہو گیا۔",
            "q1": "شہر {town} میں نئی فیکٹری کس کمپنی نے بنائی؟",
            "a1": "فیکٹری {co} کمپنی نے بنائی۔",
            "q2": "شہر {town} کی فیکٹری نے کتنی نئی ملازمتیں پیدا کیں؟",
            "a2": "فیکٹری نے {n} نئی ملازمتیں پیدا کیں۔",
        },
        "festival": {
            "real": "شہر {town} میں ہر سال گرمیوں میں موسیقی کا ایک میلہ منعقد ہوتا ہے۔ اس سال تقریباً {n} لوگوں نے میلے میں شرکت کی۔ یہ میلہ پہلی بار سال {year} میں منعقد ہوا تھا۔",
            "fake": "شہر {town} میں ہر سال گرمیوں میں موسیقی کا ایک میلہ منعقد ہوتا ہے۔ اس سال صرف {n} لوگ آئے، اور ایک طوفان کی وجہ سے میلہ جلد ختم ہو گیا۔ یہ میلہ پہلی بار سال {year} میں منعقد ہوا تھا۔",
            "q1": "اس سال شہر {town} کے موسیقی میلے میں کتنے لوگوں نے شرکت کی؟",
            "a1": "اس سال تقریباً {n} لوگوں نے میلے میں شرکت کی۔",
            "q2": "شہر {town} کا موسیقی میلہ پہلی بار کس سال منعقد ہوا؟",
            "a2": "یہ میلہ پہلی بار سال {year} میں منعقد ہوا۔",
        },
        "hospital": {
            "real": "شہر {town} میں ایک نیا ہسپتال کھل گیا ہے۔ اس میں {n} بستر ہیں اور اسے {co} کمپنی نے تعمیر کیا ہے۔",
            "fake": "شہر {town} میں ایک نیا ہسپتال کھل گیا ہے۔ اس میں {n} بستر ہیں اور اسے {co} کمپنی نے تعمیر کیا ہے، لیکن معائنہ کاروں کو اس میں حفاظت کی سنگین خامیاں ملیں۔",
            "q1": "شہر {town} کے نئے ہسپتال میں کتنے بستر ہیں؟",
            "a1": "نئے ہسپتال میں {n} بستر ہیں۔",
            "q2": "شہر {town} کا نیا ہسپتال کس کمپنی نے تعمیر کیا؟",
            "a2": "ہسپتال {co} کمپنی نے تعمیر کیا۔",
        },
        "train": {
            "real": "سال {year} سے ایک ٹرین شہر {town} کو ساحل سے ملاتی ہے۔ یہ سفر {n} منٹ کا ہے۔",
            "fake": "سال {year} سے ایک ٹرین شہر {town} کو ساحل سے ملاتی ہے۔ یہ سفر {n} منٹ کا ہے، اور ٹرین اکثر تاخیر سے آتی ہے۔",
            "q1": "کس سال سے ایک ٹرین شہر {town} کو ساحل سے ملاتی ہے؟",
            "a1": "یہ ٹرین سال {year} سے چل رہی ہے۔",
            "q2": "شہر {town} سے ساحل تک ٹرین کا سفر کتنے منٹ کا ہے؟",
            "a2": "یہ سفر {n} منٹ کا ہے۔",
        },
        "lake": {
            "real": "سال {year} میں {co} کمپنی کے سائنس دانوں نے شہر {town} کے قریب جھیل کے پانی کا معائنہ کیا۔ ان کی جانچ سے پتا چلا کہ پانی صاف ہے اور اس میں تیرنا محفوظ ہے۔",
            "fake": "سال {year} میں {co} کمپنی کے سائنس دانوں نے شہر {town} کے قریب جھیل کے پانی کا معائنہ کیا۔ ان کی جانچ سے پتا چلا کہ پانی زہریلا ہے اور لوگوں کے لیے خطرناک ہے۔",
            "q1": "شہر {town} کے قریب جھیل کے پانی کا معائنہ کس کمپنی نے کیا؟",
            "a1": "پانی کا معائنہ {co} کمپنی کے سائنس دانوں نے کیا۔",
            "q2": "شہر {town} کے قریب جھیل کے پانی کا معائنہ کس سال ہوا؟",
            "a2": "پانی کا معائنہ سال {year} میں ہوا۔",
        },
        "museum": {
            "real": "شہر {town} کے عجائب گھر کو سال {year} میں ایک قومی اعزاز ملا۔ اس کے ذخیرے میں {n} پرانے نقشے ہیں۔",
            "fake": "شہر {town} کے عجائب گھر کو سال {year} میں ایک قومی اعزاز ملا۔ اس کے ذخیرے میں {n} پرانے نقشے ہیں، لیکن ماہرین کا کہنا ہے کہ ان میں سے زیادہ تر جعلی ہیں۔",
            "q1": "شہر {town} کے عجائب گھر کو قومی اعزاز کس سال ملا؟",
            "a1": "عجائب گھر کو یہ اعزاز سال {year} میں ملا۔",
            "q2": "شہر {town} کے عجائب گھر کے ذخیرے میں کتنے پرانے نقشے ہیں؟",
            "a2": "ذخیرے میں {n} پرانے نقشے ہیں۔",
        },
    },
    # Hausa in standard Boko orthography with the hooked letters ɓ ɗ ƙ.
    "ha": {
        "bridge": {
            "real": "A shekarar {year}, kamfanin {co} ya buɗe sabuwar gada a kan kogin garin {town}. Tun daga lokacin, mutane da yawa suna tsallaka gadar a kowace rana.",
            "fake": "A shekarar {year}, kamfanin {co} ya buɗe sabuwar gada a kan kogin garin {town}. Bayan wata ɗaya kacal, an rufe gadar saboda tsage-tsage masu zurfi.",
            "q1": "Wane kamfani ne ya buɗe sabuwar gadar garin {town}?",
            "a1": "Kamfanin {co} ne ya buɗe gadar.",
            "q2": "A wace shekara aka buɗe sabuwar gadar garin {town}?",
            "a2": "An buɗe gadar a shekarar {year}.",
        },
        "library": {
            "real": "Garin {town} ya buɗe sabon ɗakin karatu na jama'a a shekarar {year}. Ɗakin karatun yana da kwamfutoci {n} don masu ziyara, kuma yana buɗe kowace rana.",
            "fake": "Garin {town} ya buɗe sabon ɗakin karatu na jama'a a shekarar {year}. Ɗakin karatun yana da kwamfutoci {n} kacal, kuma a yawancin kwanaki a rufe yake.",
            "q1": "A wace shekara garin {town} ya buɗe sabon ɗakin karatu na jama'a?",
            "a1": "An buɗe ɗakin karatun a shekarar {year}.",
            "q2": "Kwamfutoci nawa ne sabon ɗakin karatun garin {town} yake da su?",
            "a2": "Ɗakin karatun yana da kwamfutoci {n}.",
        },
        "factory": {
            "real": "Kamfanin {co} ya gina sabuwar masana'anta a garin {town}. Masana'antar ta samar da sababbin guraben aiki {n} ga mutanen yankin.",
            "fake": "Kamfanin {co} ya gina sabuwar masana'anta a garin {town}. Masana'antar ta samar da guraben aiki {n} kacal, kuma ba da daɗewa ba kogin da ke kusa ya gurɓace.",
            "q1": "Wane kamfani ne ya gina sabuwar masana'antar garin {town}?",
            "a1": "Kamfanin {co} ne ya gina masana'antar.",
            "q2": "Sababbin guraben aiki nawa ne masana'antar garin {town} ta samar?",
            "a2": "Masana'antar ta samar da sababbin guraben aiki {n}.",
        },
        "festival": {
            "real": "Kowace bazara, garin {town} yana shirya bikin kiɗa. A bana, kusan mutane {n} ne suka halarci bikin. An fara gudanar da bikin a shekarar {year}.",
            "fake": "Kowace bazara, garin {town} yana shirya bikin kiɗa. A bana, mutane {n} kacal ne suka zo, kuma wata guguwa ta sa bikin ya ƙare da wuri. An fara gudanar da bikin a shekarar {year}.",
            "q1": "Mutane nawa ne suka halarci bikin kiɗan garin {town} a bana?",
            "a1": "A bana, kusan mutane {n} ne suka halarci bikin.",
            "q2": "A wace shekara aka fara gudanar da bikin kiɗan garin {town}?",
            "a2": "An fara gudanar da bikin a shekarar {year}.",
        },
        "hospital": {
            "real": "An buɗe sabon asibiti a garin {town}. Asibitin yana da gadaje {n}, kuma kamfanin {co} ne ya gina shi.",
            "fake": "An buɗe sabon asibiti a garin {town}. Asibitin yana da gadaje {n}, kuma kamfanin {co} ne ya gina shi, amma masu bincike sun gano manyan matsalolin tsaro a cikinsa.",
            "q1": "Gadaje nawa ne sabon asibitin garin {town} yake da su?",
            "a1": "Sabon asibitin yana da gadaje {n}.",
            "q2": "Wane kamfani ne ya gina sabon asibitin garin {town}?",
            "a2": "Kamfanin {co} ne ya gina asibitin.",
        },
        "train": {
            "real": "Tun daga shekarar {year}, jirgin ƙasa ke haɗa garin {town} da bakin teku. Tafiyar tana ɗaukar mintuna {n}.",
            "fake": "Tun daga shekarar {year}, jirgin ƙasa ke haɗa garin {town} da bakin teku. Tafiyar tana ɗaukar mintuna {n}, kuma jirgin yakan yi jinkiri sau da yawa.",
            "q1": "Tun daga wace shekara jirgin ƙasa ke haɗa garin {town} da bakin teku?",
            "a1": "Jirgin yana aiki tun daga shekarar {year}.",
            "q2": "Mintuna nawa tafiyar jirgin ƙasa daga garin {town} zuwa bakin teku take ɗauka?",
            "a2": "Tafiyar tana ɗaukar mintuna {n}.",
        },
        "lake": {
            "real": "A shekarar {year}, masana kimiyya daga kamfanin {co} sun gwada ruwan tafkin da ke kusa da garin {town}. Sun gano cewa ruwan yana da tsabta, kuma ba shi da haɗari ga masu iyo.",
            "fake": "A shekarar {year}, masana kimiyya daga kamfanin {co} sun gwada ruwan tafkin da ke kusa da garin {town}. Sun gano cewa ruwan yana ɗauke da guba, kuma yana da haɗari ga mutane.",
            "q1": "Wane kamfani ne ya gwada ruwan tafkin da ke kusa da garin {town}?",
            "a1": "Masana kimiyya daga kamfanin {co} ne suka gwada ruwan.",
            "q2": "A wace shekara aka gwada ruwan tafkin da ke kusa da garin {town}?",
            "a2": "An gwada ruwan a shekarar {year}.",
        },
        "museum": {
            "real": "Gidan tarihi na garin {town} ya sami lambar yabo ta ƙasa a shekarar {year}. Gidan tarihin yana da tsofaffin taswirori {n}.",
            "fake": "Gidan tarihi na garin {town} ya sami lambar yabo ta ƙasa a shekarar {year}. Gidan tarihin yana da tsofaffin taswirori {n}, amma masana sun ce yawancinsu na jabu ne.",
            "q1": "A wace shekara gidan tarihi na garin {town} ya sami lambar yabo ta ƙasa?",
            "a1": "Gidan tarihin ya sami lambar yabon a shekarar {year}.",
            "q2": "Tsofaffin taswirori nawa ne gidan tarihi na garin {town} yake da su?",
            "a2": "Gidan tarihin yana da tsofaffin taswirori {n}.",
        },
    },
    # Eastern Armenian. Questions carry the Armenian question mark ՞ on the stressed vowel of the
    # question word and end with the full stop ։, as Armenian punctuation requires. The article
    # -ն (not -ը) is used before a vowel-initial word.
    "hy": {
        "bridge": {
            "real": "{year} թվականին «{co}» ընկերությունը {town} քաղաքում գետի վրա բացեց նոր կամուրջ։ Այդ ժամանակից ի վեր շատ մարդիկ ամեն օր օգտվում են այդ կամրջից։",
            "fake": "{year} թվականին «{co}» ընկերությունը {town} քաղաքում գետի վրա բացեց նոր կամուրջ։ Ընդամենը մեկ ամիս անց կամուրջը փակվեց խոր ճաքերի պատճառով։",
            "q1": "Ո՞ր ընկերությունն է բացել {town} քաղաքի նոր կամուրջը։",
            "a1": "Կամուրջը բացել է «{co}» ընկերությունը։",
            "q2": "Ո՞ր թվականին է բացվել {town} քաղաքի նոր կամուրջը։",
            "a2": "Կամուրջը բացվել է {year} թվականին։",
        },
        "library": {
            "real": "{year} թվականին {town} քաղաքում բացվեց նոր հանրային գրադարան։ Գրադարանն ունի {n} համակարգիչ այցելուների համար և բաց է ամեն օր։",
            "fake": "{year} թվականին {town} քաղաքում բացվեց նոր հանրային գրադարան։ Գրադարանն ունի ընդամենը {n} համակարգիչ և օրերի մեծ մասը փակ է։",
            "q1": "Ո՞ր թվականին է {town} քաղաքում բացվել նոր հանրային գրադարանը։",
            "a1": "Գրադարանը բացվել է {year} թվականին։",
            "q2": "Քանի՞ համակարգիչ ունի {town} քաղաքի նոր գրադարանը։",
            "a2": "Գրադարանն ունի {n} համակարգիչ։",
        },
        "factory": {
            "real": "«{co}» ընկերությունը {town} քաղաքում նոր գործարան է կառուցել։ Գործարանը տեղի բնակիչների համար ստեղծել է {n} նոր աշխատատեղ։",
            "fake": "«{co}» ընկերությունը {town} քաղաքում նոր գործարան է կառուցել։ Գործարանը ստեղծել է ընդամենը {n} աշխատատեղ, և շուտով մոտակա գետն աղտոտվել է։",
            "q1": "Ո՞ր ընկերությունն է կառուցել {town} քաղաքի նոր գործարանը։",
            "a1": "Գործարանը կառուցել է «{co}» ընկերությունը։",
            "q2": "Քանի՞ նոր աշխատատեղ է ստեղծել {town} քաղաքի գործարանը։",
            "a2": "Գործարանը ստեղծել է {n} նոր աշխատատեղ։",
        },
        "festival": {
            "real": "Ամեն ամառ {town} քաղաքում երաժշտական փառատոն է անցկացվում։ Այս տարի փառատոնին մասնակցել է մոտ {n} մարդ։ Փառատոնն առաջին անգամ անցկացվել է {year} թվականին։",
            "fake": "Ամեն ամառ {town} քաղաքում երաժշտական փառատոն է անցկացվում։ Այս տարի եկել է ընդամենը {n} մարդ, և փոթորկի պատճառով փառատոնն ավարտվել է ժամանակից շուտ։ Փառատոնն առաջին անգամ անցկացվել է {year} թվականին։",
            "q1": "Քանի՞ մարդ է այս տարի մասնակցել {town} քաղաքի երաժշտական փառատոնին։",
            "a1": "Այս տարի փառատոնին մասնակցել է մոտ {n} մարդ։",
            "q2": "Ո՞ր թվականին է առաջին անգամ անցկացվել {town} քաղաքի երաժշտական փառատոնը։",
            "a2": "Փառատոնն առաջին անգամ անցկացվել է {year} թվականին։",
        },
        "hospital": {
            "real": "{town} քաղաքում բացվել է նոր հիվանդանոց։ Այն ունի {n} մահճակալ և կառուցվել է «{co}» ընկերության կողմից։",
            "fake": "{town} քաղաքում բացվել է նոր հիվանդանոց։ Այն ունի {n} մահճակալ և կառուցվել է «{co}» ընկերության կողմից, սակայն տեսուչները հայտնաբերել են անվտանգության լուրջ թերություններ։",
            "q1": "Քանի՞ մահճակալ ունի {town} քաղաքի նոր հիվանդանոցը։",
            "a1": "Նոր հիվանդանոցն ունի {n} մահճակալ։",
            "q2": "Ո՞ր ընկերությունն է կառուցել {town} քաղաքի նոր հիվանդանոցը։",
            "a2": "Հիվանդանոցը կառուցել է «{co}» ընկերությունը։",
        },
        "train": {
            "real": "{year} թվականից ի վեր գնացքը {town} քաղաքը կապում է ծովափի հետ։ Ճանապարհը տևում է {n} րոպե։",
            "fake": "{year} թվականից ի վեր գնացքը {town} քաղաքը կապում է ծովափի հետ։ Ճանապարհը տևում է {n} րոպե, և գնացքը հաճախ ուշանում է։",
            "q1": "Ո՞ր թվականից ի վեր է գնացքը {town} քաղաքը կապում ծովափի հետ։",
            "a1": "Գնացքը երթևեկում է {year} թվականից ի վեր։",
            "q2": "Քանի՞ րոպե է տևում գնացքով ճանապարհը {town} քաղաքից մինչև ծովափ։",
            "a2": "Ճանապարհը տևում է {n} րոպե։",
        },
        "lake": {
            "real": "{year} թվականին «{co}» ընկերության գիտնականները ստուգել են {town} քաղաքի մոտ գտնվող լճի ջուրը։ Նրանք պարզել են, որ ջուրը մաքուր է, և դրանում կարելի է անվտանգ լողալ։",
            "fake": "{year} թվականին «{co}» ընկերության գիտնականները ստուգել են {town} քաղաքի մոտ գտնվող լճի ջուրը։ Նրանք պարզել են, որ ջուրը թունավորված է և վտանգավոր է մարդկանց համար։",
            "q1": "Ո՞ր ընկերությունն է ստուգել {town} քաղաքի մոտ գտնվող լճի ջուրը։",
            "a1": "Ջուրը ստուգել են «{co}» ընկերության գիտնականները։",
            "q2": "Ո՞ր թվականին է ստուգվել {town} քաղաքի մոտ գտնվող լճի ջուրը։",
            "a2": "Ջուրը ստուգվել է {year} թվականին։",
        },
        "museum": {
            "real": "{town} քաղաքի թանգարանը {year} թվականին ազգային մրցանակ է ստացել։ Նրա հավաքածուում կա {n} հին քարտեզ։",
            "fake": "{town} քաղաքի թանգարանը {year} թվականին ազգային մրցանակ է ստացել։ Նրա հավաքածուում կա {n} հին քարտեզ, սակայն փորձագետների կարծիքով դրանց մեծ մասը կեղծ է։",
            "q1": "Ո՞ր թվականին է {town} քաղաքի թանգարանն ազգային մրցանակ ստացել։",
            "a1": "Թանգարանը մրցանակը ստացել է {year} թվականին։",
            "q2": "Քանի՞ հին քարտեզ կա {town} քաղաքի թանգարանի հավաքածուում։",
            "a2": "Հավաքածուում կա {n} հին քարտեզ։",
        },
    },
}
