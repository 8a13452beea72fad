import pytest
from django.core import mail

from accounts import tasks
from accounts.models import User
from accounts.tests.factories import UserFactory
from notifications import sms

pytestmark = pytest.mark.django_db


def test_verification_email_is_skipped_once_verified(customer):
    assert tasks.send_verification_email(customer.pk) == 0
    assert mail.outbox == []


def test_tasks_skip_deleted_users(customer):
    User.objects.filter(pk=customer.pk).update(is_active=False)
    assert tasks.send_password_reset_email(customer.pk) == 0
    assert tasks.send_phone_verification_code(customer.pk) == "skipped"
    assert mail.outbox == [] and sms.outbox == []


def test_phone_code_task_skips_verified_phones(customer):
    User.objects.filter(pk=customer.pk).update(is_phone_verified=True)
    assert tasks.send_phone_verification_code(customer.pk) == "skipped"
    assert sms.outbox == []


def test_each_new_code_replaces_the_previous_one(customer, customer_client):
    tasks.send_phone_verification_code(customer.pk)
    first = sms.outbox[-1].message[:6]
    tasks.send_phone_verification_code(customer.pk)
    second = sms.outbox[-1].message[:6]
    if first != second:
        stale = customer_client.post("/api/v1/auth/verify-phone/confirm", {"code": first})
        assert stale.status_code == 400
    assert (
        customer_client.post("/api/v1/auth/verify-phone/confirm", {"code": second}).status_code
        == 200
    )


def test_names_are_not_html_escaped_in_plain_text(db):
    user = UserFactory(
        email="obrien@example.co.ke", first_name="O'Brien & Co", is_email_verified=False
    )
    tasks.send_verification_email(user.pk)
    message = mail.outbox[0]
    assert "Hello O'Brien & Co," in message.body
    assert "O&#x27;Brien &amp; Co" in message.alternatives[0][0]


def test_kyc_decision_email_only_for_decided_profiles(technician):
    profile = technician.technician_profile
    profile.kyc_status = "pending"
    profile.save()
    assert tasks.send_kyc_decision_email(profile.pk) == 0
    assert mail.outbox == []


def test_tasks_by_address_send_only_to_an_active_account(customer):
    assert tasks.send_password_reset_email_to_address("ghost@example.co.ke") == 0
    assert tasks.send_verification_email_to_address(customer.email) == 0  # already verified
    User.objects.filter(pk=customer.pk).update(is_active=False)
    assert tasks.send_password_reset_email_to_address(customer.email) == 0
    assert mail.outbox == []
    User.objects.filter(pk=customer.pk).update(is_active=True, is_email_verified=False)
    assert tasks.send_password_reset_email_to_address(customer.email) == 1
    assert tasks.send_verification_email_to_address(customer.email) == 1
    assert [message.to for message in mail.outbox] == [[customer.email]] * 2
