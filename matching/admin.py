from django.contrib import admin

from matching.models import CustomerBlock, Match, MatchingPreference, MatchStatusHistory


class MatchStatusHistoryInline(admin.TabularInline):
    model = MatchStatusHistory
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "actor", "note", "created_at"]


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "technician",
        "category",
        "rank",
        "total_score",
        "status",
        "scheduled_start",
        "created_at",
    ]
    list_filter = ["status", "urgency", "category"]
    search_fields = [
        "customer__email",
        "technician__email",
        "technician__first_name",
        "technician__last_name",
        "search_id",
    ]
    raw_id_fields = ["customer", "technician", "booking"]
    readonly_fields = [
        "search_id",
        "rank",
        "total_score",
        "factor_scores",
        "weights_used",
        "reasons",
        "status",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["customer", "technician", "category"]
    date_hierarchy = "created_at"
    inlines = [MatchStatusHistoryInline]


@admin.register(MatchingPreference)
class MatchingPreferenceAdmin(admin.ModelAdmin):
    list_display = ["customer", "max_distance_km", "price_min", "price_max", "learning_events"]
    search_fields = ["customer__email"]
    raw_id_fields = ["customer", "preferred_technicians"]
    readonly_fields = ["learned_weights", "learning_events", "created_at", "updated_at"]


@admin.register(CustomerBlock)
class CustomerBlockAdmin(admin.ModelAdmin):
    list_display = ["customer", "technician", "created_at"]
    search_fields = ["customer__email", "technician__email"]
    raw_id_fields = ["customer", "technician"]
    list_select_related = ["customer", "technician"]
