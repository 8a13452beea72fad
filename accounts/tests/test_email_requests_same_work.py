"""Forgot-password and resend-verification do the same work for emails with and without an account, so their
response time cannot tell them apart (issue 19, item 3). No timing is asserted: the work is (queries, tasks).
That the known email then gets its email is tested in test_apis_password.py and test_apis_verification.py."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "task"),
    [
        ("/api/v1/auth/forgot-password", "accounts.tasks.send_password_reset_email_to_address"),
        ("/api/v1/auth/resend-verification", "accounts.tasks.send_verification_email_to_address"),
    ],
)
def test_known_and_unknown_emails_do_the_same_work(
    anon_client,
    customer,
    path,
    task,
    task_outbox,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    def request(email: str):
        task_outbox.queued.clear()
        with (
            django_assert_num_queries(0),
            django_capture_on_commit_callbacks(execute=True) as callbacks,
        ):
            response = anon_client.post(path, {"email": email}, format="json")
        return response, len(callbacks), [(q.name, q.args) for q in task_outbox.queued]

    known, known_callbacks, known_queued = request("Wanjiku@Example.co.ke")
    unknown, unknown_callbacks, unknown_queued = request("ghost@example.co.ke")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known_callbacks == unknown_callbacks == 1
    assert known_queued == [(task, ("wanjiku@example.co.ke",))]
    assert unknown_queued == [(task, ("ghost@example.co.ke",))]
