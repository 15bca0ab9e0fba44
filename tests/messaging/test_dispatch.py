"""How a dispatcher claim is cut into send tasks."""

from messaging.dispatch import task_chunks


def test_a_big_claim_goes_out_in_tasks_of_the_largest_size(settings):
    settings.DISPATCH_TASK_SIZE, settings.DISPATCH_MIN_TASKS = 100, 4
    chunks = task_chunks(list(range(500)))
    assert [len(chunk) for chunk in chunks] == [100] * 5
    assert [i for chunk in chunks for i in chunk] == list(range(500))


def test_a_few_due_messages_are_still_spread_over_several_tasks(settings):
    settings.DISPATCH_TASK_SIZE, settings.DISPATCH_MIN_TASKS = 100, 4
    assert task_chunks(list(range(12))) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert task_chunks([7, 8]) == [[7], [8]]
    assert task_chunks([]) == []
