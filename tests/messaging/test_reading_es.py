"""Reading Spanish and Spanglish: the development corpus's bars, keywords, normalising, idioms, the
language a text is in. The held-out Spanish set (tests/data/es/validation*) is measured by the bench,
never here."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.reading_bench import DATA_ES, corpus, measure
from messaging.reading import (
    ENGLISH,
    HELP,
    KEYWORDS,
    NO_RIDE,
    OPT_IN,
    OPT_OUT,
    PREFERENCES,
    RIDE,
    SAFETY_OFF,
    SAFETY_ON,
    SPANISH,
    Reading,
    affirmative,
    keyword_of,
    normalize_es,
    read_text,
    safety_off,
)


@pytest.fixture(scope="module")
def figures():
    return measure(corpus(DATA_ES))


def test_the_spanish_development_corpus_is_there():
    texts = corpus(DATA_ES)
    assert len(texts["danger"]) + len(texts["emergency"]) >= 200
    assert len(texts["ordinary"]) >= 200
    assert len(texts["optout"]) >= 100


def test_spanish_danger_recall_is_at_least_98_percent(figures):
    numbers, misses = figures
    assert numbers["danger_recall"] >= 0.98, misses["danger"] + misses["emergency"]


def test_spanish_false_alarms_are_at_most_5_percent(figures):
    numbers, misses = figures
    assert numbers["false_alarm_rate"] <= 0.05, misses["ordinary"]


def test_spanish_opt_outs_are_honoured(figures):
    numbers, misses = figures
    assert numbers["optout_honoured"] >= 0.97, misses["optout"]


def test_nothing_else_in_spanish_is_read_as_an_opt_out(figures):
    numbers, misses = figures
    assert numbers["false_optouts"] == 0, misses["not_optout"]


# --- Keywords ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "keyword", "group"),
    [
        ("PARAR", "PARAR", OPT_OUT),
        ("alto", "ALTO", OPT_OUT),
        ("Cancelar.", "CANCELAR", OPT_OUT),
        ("baja", "BAJA", OPT_OUT),
        ("FIN", "FIN", OPT_OUT),
        ("ayuda", "AYUDA", HELP),
        ("Inicio", "INICIO", OPT_IN),
        ("COMENZAR", "COMENZAR", OPT_IN),
        ("listo", "LISTO", RIDE),
        ("no listo", "NOLISTO", NO_RIDE),
        ("NOLISTO", "NOLISTO", NO_RIDE),
        ("ajustes", "AJUSTES", PREFERENCES),
        ("SEGURIDAD", "SEGURIDAD", SAFETY_ON),
        ("seguridad no", "SEGURIDADNO", SAFETY_OFF),
        ("sin seguridad", "SINSEGURIDAD", SAFETY_OFF),
        ("Español", "ESPANOL", SPANISH),
        ("espanol", "ESPANOL", SPANISH),
        ("ESPAÑOL!", "ESPANOL", SPANISH),
        ("spanish", "SPANISH", SPANISH),
        ("Inglés", "INGLES", ENGLISH),
        ("english", "ENGLISH", ENGLISH),
    ],
)
def test_spanish_keywords_are_read_whatever_the_case_accents_and_punctuation(body, keyword, group):
    assert keyword_of(body) == keyword
    assert keyword in group
    assert keyword in KEYWORDS
    reading = read_text(body)
    assert reading.reading == Reading.KEYWORD
    assert reading.keyword == keyword
    assert reading.opt_out == (keyword in OPT_OUT)


def test_a_spanish_keyword_is_answered_in_spanish_and_an_english_one_in_english():
    assert read_text("PARAR").language == "es"
    assert read_text("AYUDA").language == "es"
    assert read_text("STOP").language == "en"
    assert read_text("HELP").language == "en"


@pytest.mark.parametrize("body", ["si", "Sí", "sí por favor", "claro que si", "si gracias", "SI, ok"])
def test_a_spanish_yes_is_affirmative(body):
    assert affirmative(body)


@pytest.mark.parametrize("body", ["si no", "no", "sí pero mañana no puedo", "que?"])
def test_a_spanish_maybe_is_not_a_yes(body):
    assert not affirmative(body)


@pytest.mark.parametrize(
    "body",
    ["ya no quiero los mensajes de seguridad", "sin los consejos de seguridad por favor", "paren lo de seguridad"],
)
def test_stopping_the_safety_tips_in_spanish(body):
    assert safety_off(body)


# --- Normalising ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "normalized"),
    [
        ("Está MUY mal", "esta muy mal"),
        ("dice q ya no kiere vivir", "dice que ya no quiere vivir"),
        ("xq no me contestas", "porque no me contestas"),
        ("yo tmb toy cansada", "yo tambien estoy cansada"),
        ("x fa ya no me manden msjs", "por favor ya no me manden mensajes"),
        ("bajaaa", "baja"),
        ("ayudaaa", "ayuda"),
        ("se quiere suisidar", "se quiere suicidar"),
        ("inconciente en el baño", "inconsciente en el bano"),
        ("ya no me escrivan", "ya no me escriban"),
        ("mija no reacciona", "mi hija no reacciona"),
    ],
)
def test_spanish_is_normalized_as_phones_write_it(body, normalized):
    assert normalize_es(body) == normalized


@pytest.mark.parametrize("word", ["carro", "perrito", "lleve", "llama", "leer", "pasa", "mesa", "quiera", "despierte"])
def test_spanish_words_are_not_corrected_into_other_words(word):
    assert normalize_es(word) == word


# --- Danger and idioms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "mi hijo dice que se quiere morir",
        "dice q ya no quiere vivir",
        "se quiere quitar la vida",
        "dice que estariamos mejor sin el",
        "esta juntando pastillas",
        "se está cortando otra vez",
        "mi esposo me amenazó con un cuchillo",
        "escribio una carta de despedida",
        "MI HIJA DICE Q SE VA A MATAR",
    ],
)
def test_spanish_danger(body):
    reading = read_text(body)
    assert reading.reading == Reading.DANGER, reading
    assert reading.language == "es"


@pytest.mark.parametrize(
    "body",
    [
        "mi mamá no respira",
        "no despierta, ayuda",
        "se tomó todas las pastillas",
        "está convulsionando",
        "tiene los labios morados",
        "se cortó las venas y está sangrando mucho",
    ],
)
def test_spanish_emergencies_lead_with_911(body):
    assert read_text(body).reading == Reading.EMERGENCY


@pytest.mark.parametrize(
    "body",
    [
        "me muero de hambre jaja",
        "me muero de risa con mi tío",
        "me mata el tráfico",
        "se murió el celular",
        "estoy muerto de cansancio",
        "mi jefe me va a matar si llego tarde",
        "este calor me está matando",
        "casi me da un infarto cuando vi la cuenta",
        "se cortó el pelo y se ve bonita",
        "compré pastillas para la tos",
        "ya se tomó sus pastillas de la noche",
        "si vuelve a dejar los platos sucios lo mato 😂",
        "se despidió de sus compañeros porque se jubiló",
    ],
)
def test_spanish_idioms_are_not_danger(body):
    assert not read_text(body).danger, read_text(body)


@pytest.mark.parametrize(
    "body",
    [
        "my daughter says she wants to die",
        "mi hermana dice que she wants to kill herself",
        "my mom keeps saying que mejor se muere",
        "esta hablando de suicide otra vez",
        "my son took all his pills y no se despierta HELP",
    ],
)
def test_spanglish_danger_is_read_by_either_rule_set(body):
    assert read_text(body).danger


def test_danger_in_spanish_keeps_an_opt_out_beside_it():
    reading = read_text("ya no me manden mensajes, ya no quiero vivir")
    assert reading.danger
    assert reading.opt_out


# --- Opt-outs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "ya no me manden mensajes",
        "bórrenme de la lista",
        "no quiero recibir más textos",
        "dejen de escribirme",
        "quiero darme de baja",
        "para",
        "basta ya",
        "stop mandando mensajes please",
        "ya no kiero mas mensajes",
    ],
)
def test_spanish_opt_outs(body):
    reading = read_text(body)
    assert reading.reading == Reading.OPT_OUT, reading
    assert reading.opt_out
    assert reading.language == "es"


@pytest.mark.parametrize(
    "body", ["mándenme menos", "solo los recordatorios por favor", "más tarde por favor", "menos mensajes pls"]
)
def test_spanish_requests_for_fewer_messages(body):
    reading = read_text(body)
    assert reading.reading == Reading.FEWER, reading
    assert not reading.opt_out


@pytest.mark.parametrize(
    "body",
    [
        "cancelar la cita del martes",
        "el fin de semana vamos a la playa",
        "tiene la presión alta",
        "tiene la presión baja",
        "ya paró el vómito",
        "vamos a parar en la farmacia",
        "para cuando es la cita?",
        "me dieron de baja del trabajo",
        "no pares de mandarme estos consejos",
        "alto! no me llegó el mensaje, me lo reenvían?",
    ],
)
def test_spanish_everyday_words_are_not_opt_outs(body):
    assert not read_text(body).opt_out, read_text(body)


# --- Language ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "language"),
    [
        ("hola, a qué hora es la cita mañana?", "es"),
        ("gracias por los consejos", "es"),
        ("what time is the appointment tomorrow?", "en"),
        ("thanks for the tips", "en"),
        ("my dad tiene cita el 15 verdad?", "es"),
    ],
)
def test_the_language_a_text_is_in(body, language):
    assert read_text(body).language == language


# --- Properties ----------------------------------------------------------------------------------

_SAMPLES = [
    "mi hijo dice que se quiere matar",
    "no respira",
    "ya no me manden mensajes",
    "me muero de risa",
    "cancelar la cita del martes",
    "mandenme menos mensajes",
    "gracias por los consejos",
    "se tomo todas las pastillas",
]
_ACCENTS = str.maketrans("aeiou", "áéíóú")


@given(
    st.sampled_from(_SAMPLES),
    st.lists(st.booleans(), min_size=60, max_size=60),
    st.lists(st.integers(min_value=1, max_value=4), min_size=60, max_size=60),
)
def test_accents_case_and_repeated_letters_never_change_a_spanish_reading(body, upper, repeat):
    changed = "".join(
        (ch.translate(_ACCENTS).upper() if up else ch.translate(_ACCENTS))
        + (ch * (n - 1) if n > 2 and ch.isalpha() else "")
        for ch, up, n in zip(body, upper, repeat, strict=False)
    )
    before, after = read_text(body), read_text(changed)
    assert (after.reading, after.opt_out, after.language) == (before.reading, before.opt_out, before.language), changed


# --- Danger read by concept, not by sentence (none of these is in a corpus file) -------------------


@pytest.mark.parametrize(
    "body",
    [
        # self-harm verbs with a body part or an instrument, in any person or tense
        "mi nieta se raya las piernas en el baño",
        "vi que mi hijo se quemó con un cigarro a propósito",
        "la verdad yo también me he lastimado, no solo él",
        "mi hermano se golpea contra la pared cuando se enoja",
        # weapons and means with possession, search, threat or a loaded gun
        "mi suegro guarda pistolas en el clóset y anda muy deprimido",
        "el rifle de mi tío está cargado en la sala",
        "mi novia dice que si la dejo se corta",
        "mi hija dijo que se avienta del puente si la regañan",
        "mi abuelo tiene la morfina acumulada en un cajón",
        "mi sobrino quiere llevar un cuchillo a la escuela",
        "mi esposo compró una soga y no me dice para qué",
        # farewells and finality
        "mi tía grabó videos para cada uno de sus hijos",
        "mi mamá dijo que total no va a estar",
        "mi papá ya escogió su ataúd y está muy tranquilo",
        "dice que ya hizo las paces con Dios",
        "mi hijo dijo que este es su último día",
        "mi hermana vendió su carro bien barato y dice que ya no le hace falta",
        "mi abuelo le regaló su perro al vecino de repente",
        # not waking, no meaning, waiting for the end
        "mi mamá dice que es mejor morirse que seguir así",
        "mi esposo dice que nada tiene sentido",
        "dice que ojalá no amanecer mañana",
        # threats to others
        "mi yerno amenazó con quemar la casa",
        "mi ex dijo que va a matarla",
        # the caregiver's own ideation
        "a veces pienso en aventarme y acabar con esto",
    ],
)
def test_spanish_danger_by_concept(body):
    reading = read_text(body)
    assert reading.danger, reading
    assert reading.language == "es"


@pytest.mark.parametrize(
    "body",
    [
        "mi abuelo se puso azul y no lo sentimos respirar bien",
        "mi tío se agarró el pecho",
        "se desplomó en la cocina y no reacciona",
    ],
)
def test_spanish_emergencies_described_by_symptoms(body):
    assert read_text(body).reading == Reading.EMERGENCY


@pytest.mark.parametrize(
    "body",
    [
        "voy a matar a mi prima, se acabó el helado jaja",
        "me corté con un vidrio lavando trastes, nada grave",
        "hoy es el último día de clases de mi hijo",
        "se tiró a la alberca con ropa jaja",
        "compré una cuerda para tender la ropa",
        "estamos esperando el momento para hablar con el doctor",
    ],
)
def test_spanish_concept_rules_leave_everyday_texts_alone(body):
    assert not read_text(body).danger, read_text(body)


@pytest.mark.parametrize("body", ["prar", "cancelar cancelar", "les pido que no me mandaran mas textos"])
def test_spanish_opt_outs_with_typos_repeats_and_the_past_subjunctive(body):
    assert read_text(body).opt_out, read_text(body)


@pytest.mark.parametrize(
    "body",
    [
        "ya no me manden los consejos pero seguir con las citas",
        "no me escriban mientras estoy en clase, de 9 a 2",
    ],
)
def test_a_partial_stop_in_spanish_is_fewer_not_an_opt_out(body):
    reading = read_text(body)
    assert not reading.opt_out, reading
    assert reading.reading == Reading.FEWER, reading
