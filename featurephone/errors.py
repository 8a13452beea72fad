from dumuwaks.core.errors import Conflict, Forbidden


class TechniciansOnly(Forbidden):
    code = "technicians_only"
    message = "Only technicians get job offers by SMS."


class PhoneNotVerified(Conflict):
    code = "phone_not_verified"
    message = (
        "Verify your phone number first (POST /api/v1/auth/verify-phone): offers go to that number."
    )
