"""The Spanish danger model (messaging.reading: features_es, scores_es), beside the Spanish rules:
trained on what it says it was trained on, silent on texts too short to read, and what it and the
rules learned from the held-out sets that were then read (es-validation to es-validation3)."""

import hashlib
import json

import pytest

from bench.reading_bench import DATA_ES, corpus, measure
from bench.reading_train_es import TRAINING, labelled
from messaging.reading import MODEL_ES_FILE, Reading, features_es, read_text, scores_es


def test_the_model_was_trained_on_the_corpus_as_it_is_now():
    # A text added to the Spanish corpus without retraining (bench/reading_train_es.py) fails here.
    texts, _, _ = labelled()
    model = json.loads(MODEL_ES_FILE.read_text(encoding="utf-8"))
    assert model["trained_on"]["corpus_sha256"] == hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    assert model["trained_on"]["texts"] == len(texts)


def test_the_held_out_set_it_is_judged_on_was_never_trained_on():
    held_out = sorted(path.name for path in DATA_ES.glob("validation*") if path.name not in TRAINING)
    assert held_out, "keep a Spanish set nobody trained or wrote rules on"


def test_features_are_the_same_in_every_process():
    # crc32, not Python's hash(): a web worker and the training script must agree on every slot.
    assert features_es("mi hijo dice que ya no quiere vivir") == features_es("mi hijo dice que ya no quiere vivir")
    assert min(features_es("mi hijo dice que ya no quiere vivir")) >= 0


@pytest.mark.parametrize("body", ["y", "sí claro", "ok gracias", "ya no", "no puedo"])
def test_a_text_too_short_to_read_is_left_to_the_rules(body):
    assert scores_es(body) == (0.0, 0.0)
    assert not read_text(body).danger


@pytest.mark.parametrize(
    "body",
    [
        # Found by outside writers (held-out sets, then read): no rule named these.
        "mi pana me escribio q me quiere mucho y q le cuide a su perro, eso no es normal en el",
        "tengo miedo de hacerme algo",
        "mi hijo ha estado investigando sobre los puentes más altos de la ciudad",
        'mi hijo no ha vuelto a casa y me mandó un msj q decía "perdóname mamá"',
    ],
)
def test_indirect_danger_is_read(body):
    assert read_text(body).danger, read_text(body)


@pytest.mark.parametrize(
    "body",
    [
        "mi hermano se acaba de tirar del puente",
        "se le paró el corazón, le estoy haciendo RCP",
        "tuvo reacción a la medicina, tiene ronchas por todo el cuerpo y se le está cerrando la garganta",
        "a mi hermana la atropellaron, está tirada en la calle",
        "me tomé 40 pastillas hace una hora y me siento muy mal",
        "she took todas las pastillas, ayuda!!!",
        "ayudaaa se esta muriendo",
    ],
)
def test_an_emergency_now_is_911_first(body):
    assert read_text(body).reading == Reading.EMERGENCY, read_text(body)


@pytest.mark.parametrize(
    "body",
    [
        "anoche vimos una película de un chavo que se suicida, muy triste pero bien hecha",
        "vimos un documental sobre la prevención del suicidio en la escuela de mi hijo, muy bueno",
        "mi hermano guarda su pistola con candado en la caja fuerte, como nos recomendaron",
        "mi esposo sacó las armas de la casa y se las dio a su hermano, como dijo la consejera",
        "se me quemó el arroz 😩",
        "mi esposo se cortó afeitándose, nada más un rasguño",
        "mi hija se desmayó de la risa cuando vio el video jaja",
        "me matan esas copias del seguro, nunca llegan completas",
        "ya se tomo todas las pastillas de la semana como le indico el doctor, necesitamos resurtir",
    ],
)
def test_safety_steps_stories_and_idioms_are_not_danger(body):
    assert not read_text(body).danger, read_text(body)


def test_a_spanish_text_about_a_film_still_reads_a_wish_to_die_in_it():
    assert read_text("mi hijo vio una serie y ahora dice que se quiere suicidar").danger


@pytest.mark.parametrize(
    "body",
    [
        "dénme de baja",
        "stop plis",
        "dejad de enviarme mensajes, gracias",
        "no quiero que me sigan mandando cosas",
        "cansela",
        "alto a todos los mensajes por favor",
        "PARA YA DE MANDAR MENSAJES",
        "No me enviéis más SMS",
        "FUERA de su lista",
        "Dejen de molestar con tantos mensajes",
        "STOP jajaja ya no me manden nada",
        "quitar suscripcion",
        "Me tienen harta con tantos mensajes, ya no me escriban nunca más",
    ],
)
def test_spanish_opt_outs_found_by_outside_writers(body):
    assert read_text(body).opt_out, read_text(body)


@pytest.mark.parametrize(
    "body",
    [
        "ya basta de llorar, hoy voy a ser fuerte 💪",
        "no me den de baja, cambié de número, este es el nuevo",
        "que no se detengan los mensajes, por favor, me dan ánimo",
        "quiero dar de baja el seguro viejo y poner el nuevo, cómo hago?",
        "stop a los mensajes de los domingos porfa, los demás días están bien",
        "quiero salir de la lista de espera porque ya consegui cita en otra clinica del programa",
        "ya no me manden los recordatorios a mi, mandenselos a mi hermana, aqui va su numero",
        "Alto, espérenme, ya casi llego a la recepción",
        "Stop! jajaja qué chistoso el consejo de hoy",
        "Mi hijo tiene que darse de baja de la escuela un semestre por el tratamiento",
    ],
)
def test_not_spanish_opt_outs_found_by_outside_writers(body):
    assert not read_text(body).opt_out, read_text(body)


@pytest.mark.parametrize("name", [name for name in TRAINING if name.startswith("validation")])
def test_every_spanish_set_already_read_meets_the_bars(name):
    numbers, misses = measure(corpus(DATA_ES / name))
    assert numbers["danger_recall"] >= 0.98, misses["danger"] + misses["emergency"]
    assert numbers["false_alarm_rate"] <= 0.05, misses["ordinary"]
    assert numbers["optout_honoured"] >= 0.97, misses["optout"]
    assert numbers["false_optouts"] == 0, misses["not_optout"]


# --- Found by an outside tester on a running stack --------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Cancelar, mateo esta enfermo y no va a poder ir el jueves",
        "alto, la cita es a las 11 no a las 10 verdad?",
        "alto, a q hora es la cita?",
        "Baja, la cita se puede mover?",
        "Stop, the appointment is at 11 right?",
        "ALTO! una pregunta, el estacionamiento es gratis?",
        "stop, una pregunta rapida: lo puedo acompañar?",
        "STOP! quick question, can I stay with her during the infusion?",
        "stop. is parking free?",
    ],
)
def test_a_stop_word_then_talk_of_an_appointment_is_no_opt_out(body):
    assert not read_text(body).opt_out, read_text(body)


@pytest.mark.parametrize(
    "body",
    ["STOP", "Alto", "alto. ya no quiero nada", "PARAR por favor", "STOP. no more texts", "lol who is this. stop"],
)
def test_a_stop_word_alone_or_with_a_plain_stop_still_opts_out(body):
    assert read_text(body).opt_out


@pytest.mark.parametrize("body", ["siii claro", "dale", "Sí, gracias", "yesss"])
def test_a_yes_in_a_family_s_own_words_confirms(body):
    from messaging.reading import affirmative

    assert affirmative(body)


@pytest.mark.parametrize(
    ("body", "keyword"),
    [("en español por favor", "ESPANOL"), ("spanish please", "ESPANOL"), ("in english pls", "ENGLISH"),
     ("quiero los mensajes en español", "ESPANOL")],
)  # fmt: skip
def test_asking_for_a_language_in_a_few_words_is_that_keyword(body, keyword):
    assert (read_text(body).reading, read_text(body).keyword) == (Reading.KEYWORD, keyword)


def test_the_spanish_for_a_language_inside_a_sentence_is_no_keyword():
    assert read_text("el español de mi hijo mejoró mucho").keyword == ""


@pytest.mark.parametrize("body", ["me muero de risa", "este trafico me mata", "me muero de hambre"])
def test_an_idiom_is_not_worrying_enough_to_repeat_the_auto_reply(body):
    from messaging.reading import worrying

    assert not worrying(body)


@pytest.mark.parametrize(
    "body",
    ["esa serie esta de morirse", "la ultima vez se sintio raro, como flotando"],
)
def test_to_die_for_and_floating_after_a_session_are_not_danger(body):
    assert not read_text(body).danger, read_text(body)


def test_a_wish_to_live_to_see_someone_well_is_not_danger():
    assert not read_text("no me quiero morir sin ver a mi sobrino bien, ojala funcione el tratamiento").danger


@pytest.mark.parametrize(
    "body",
    ["stop sending the ride reminder, we already have a ride", "no more ride reminders please, we have it covered"],
)
def test_stopping_the_ride_reminders_asks_for_fewer_not_for_nothing(body):
    assert read_text(body).reading == Reading.FEWER, read_text(body)
