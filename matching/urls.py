from django.urls import path

from matching import apis

urlpatterns = [
    path("matching/find-technicians", apis.MatchFindApi.as_view(), name="matching-find"),
    path("matching/my-matches", apis.MyMatchesApi.as_view(), name="matching-my-matches"),
    path(
        "matching/preferences", apis.MatchingPreferencesApi.as_view(), name="matching-preferences"
    ),
    path(
        "matching/block/<int:technician_id>",
        apis.CustomerBlockApi.as_view(),
        name="matching-block",
    ),
    path("matching/blocks", apis.CustomerBlockListApi.as_view(), name="matching-blocks"),
    path("matching/favourites", apis.FavouriteListApi.as_view(), name="matching-favourites"),
    path(
        "matching/favourites/<int:technician_id>",
        apis.FavouriteApi.as_view(),
        name="matching-favourite",
    ),
    path("matching/<int:pk>", apis.MatchDetailApi.as_view(), name="matching-detail"),
    path("matching/<int:pk>/accept", apis.MatchAcceptApi.as_view(), name="matching-accept"),
    path("matching/<int:pk>/reject", apis.MatchRejectApi.as_view(), name="matching-reject"),
    path("matching/<int:pk>/feedback", apis.MatchFeedbackApi.as_view(), name="matching-feedback"),
]
