from django.urls import path

from accounts.apis import auth, technicians, users

urlpatterns = [
    path("auth/register", auth.RegisterApi.as_view(), name="auth-register"),
    path("auth/login", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/verify-2fa", auth.TwoFactorLoginApi.as_view(), name="auth-verify-2fa"),
    path("auth/me", auth.MeApi.as_view(), name="auth-me"),
    path("auth/refresh", auth.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", auth.LogoutApi.as_view(), name="auth-logout"),
    path("auth/forgot-password", auth.ForgotPasswordApi.as_view(), name="auth-forgot-password"),
    path("auth/reset-password", auth.ResetPasswordApi.as_view(), name="auth-reset-password"),
    path("auth/verify-email/<str:token>", auth.VerifyEmailApi.as_view(), name="auth-verify-email"),
    path(
        "auth/resend-verification",
        auth.ResendVerificationApi.as_view(),
        name="auth-resend-verification",
    ),
    path("auth/verify-phone", auth.VerifyPhoneApi.as_view(), name="auth-verify-phone"),
    path(
        "auth/verify-phone/confirm",
        auth.VerifyPhoneConfirmApi.as_view(),
        name="auth-verify-phone-confirm",
    ),
    path("auth/change-password", auth.ChangePasswordApi.as_view(), name="auth-change-password"),
    path("auth/setup-2fa", auth.TwoFactorSetupApi.as_view(), name="auth-setup-2fa"),
    path("auth/enable-2fa", auth.TwoFactorEnableApi.as_view(), name="auth-enable-2fa"),
    path("auth/disable-2fa", auth.TwoFactorDisableApi.as_view(), name="auth-disable-2fa"),
    path("users", users.UserListApi.as_view(), name="users-list"),
    path("users/technicians/search", users.TechnicianSearchApi.as_view(), name="technician-search"),
    path(
        "users/me/technician-profile",
        users.MyTechnicianProfileApi.as_view(),
        name="users-me-technician-profile",
    ),
    path("users/me/kyc", users.MyKycApi.as_view(), name="users-me-kyc"),
    path("users/me/portfolio", technicians.MyPortfolioApi.as_view(), name="users-me-portfolio"),
    path(
        "users/me/portfolio/reorder",
        technicians.MyPortfolioReorderApi.as_view(),
        name="users-me-portfolio-reorder",
    ),
    path(
        "users/me/portfolio/<int:pk>",
        technicians.MyPortfolioItemApi.as_view(),
        name="users-me-portfolio-item",
    ),
    path(
        "portfolio/<int:pk>/moderate",
        technicians.PortfolioModerateApi.as_view(),
        name="portfolio-moderate",
    ),
    path(
        "technicians/<int:pk>",
        technicians.TechnicianProfileApi.as_view(),
        name="technician-profile",
    ),
    path("users/<int:pk>", users.UserDetailApi.as_view(), name="users-detail"),
    path("users/<int:pk>/kyc/review", users.KycReviewApi.as_view(), name="users-kyc-review"),
    path("categories", users.CategoryListApi.as_view(), name="categories-list"),
]
