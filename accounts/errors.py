from rest_framework import status

from dumuwaks.core.errors import ApplicationError, Conflict, Forbidden, NotFound, ValidationFailed


class InvalidCredentials(ApplicationError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_credentials"
    message = "Email or password is incorrect."


class EmailTaken(Conflict):
    code = "email_taken"
    message = "An account with this email address already exists."


class PhoneTaken(Conflict):
    code = "phone_taken"
    message = "An account with this phone number already exists."


class InvalidToken(ValidationFailed):
    code = "invalid_token"
    message = "This link or token is invalid or has expired."


class InvalidCode(ValidationFailed):
    code = "invalid_code"
    message = "The code is invalid or has expired."


class WrongPassword(ValidationFailed):
    code = "wrong_password"
    message = "The current password is incorrect."


class TwoFactorAlreadyEnabled(Conflict):
    code = "two_factor_already_enabled"
    message = "Two-factor authentication is already enabled."


class TwoFactorNotEnabled(Conflict):
    code = "two_factor_not_enabled"
    message = "Two-factor authentication is not enabled."


class TwoFactorSetupMissing(Conflict):
    code = "two_factor_setup_missing"
    message = "Start two-factor setup first."


class PhoneMissing(ValidationFailed):
    code = "phone_number_missing"
    message = "Add a phone number to your profile first."


class PhoneAlreadyVerified(Conflict):
    code = "phone_already_verified"
    message = "This phone number is already verified."


class NotATechnician(Forbidden):
    code = "not_a_technician"
    message = "Only technicians have a technician profile."


class UnknownCategory(ValidationFailed):
    code = "unknown_category"
    message = "One of the skills names an unknown service category."


class PortfolioItemNotFound(NotFound):
    code = "portfolio_item_not_found"
    message = "Portfolio item not found."


class PortfolioFull(Conflict):
    code = "portfolio_full"
    message = "A portfolio holds at most 50 items; delete one first."


class TechnicianNotFound(NotFound):
    code = "technician_not_found"
    message = "Technician not found."
