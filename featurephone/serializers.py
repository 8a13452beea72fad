from rest_framework import serializers

from accounts.models import Language


class SmsOfferEnrolmentInputSerializer(serializers.Serializer):
    language = serializers.ChoiceField(
        choices=Language.choices,
        required=False,
        help_text="The language of the offer SMS, the replies and the USSD menu (and of the technician's"
        " other notifications, which reach the same phone). Omitted: unchanged.",
    )


class SmsOfferEnrolmentSerializer(serializers.Serializer):
    is_enrolled = serializers.BooleanField(
        help_text="Job offers come by SMS with an answer code (YES 4821 / NO 4821)."
    )
    phone_number = serializers.CharField(
        allow_null=True, help_text="Where the offers go: the account's phone number."
    )
    is_phone_verified = serializers.BooleanField(
        help_text="Enrolling needs it; offers stop while a changed number is unverified."
    )
    language = serializers.ChoiceField(choices=Language.choices)
