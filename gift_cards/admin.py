"""
Gift card back office. Cards are read-only here: every change (void, extend expiry) is an
action that goes through GiftCardService, so it is locked, ledgered and evented exactly as
from the API. The ledger can be read, never edited.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from core.admin import ReadOnlyInline
from gift_cards.errors import GiftCardError
from gift_cards.models import GiftCard, GiftCardTransaction
from gift_cards.selectors import gift_card_liability_by_currency, gift_card_liability_report
from gift_cards.services import GiftCardService

LEDGER_FIELDS = (
    "created_at",
    "transaction_type",
    "amount",
    "balance_before",
    "balance_after",
    "order_id",
    "reference_id",
    "actor_id",
    "metadata",
)


class GiftCardTransactionInline(ReadOnlyInline):
    model = GiftCardTransaction
    fields = LEDGER_FIELDS
    readonly_fields = LEDGER_FIELDS
    ordering = ("id",)
    verbose_name = "ledger row"
    verbose_name_plural = "ledger"


class VoidForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class ExtendExpiryForm(forms.Form):
    expires_at = forms.DateTimeField(
        help_text="New expiry (UTC), later than each selected card's current one.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )


def _actor(request) -> str:
    return f"user:{request.user.pk}"


@admin.register(GiftCard)
class GiftCardAdmin(admin.ModelAdmin):
    list_display = (
        "masked_code",
        "currency",
        "original_amount_display",
        "balance_display",
        "status",
        "purchaser_id",
        "recipient_email",
        "expires_at",
        "created_at",
    )
    list_filter = ("status", "currency", "expires_at", "created_at")
    search_fields = ("=last_four", "=purchaser_id", "recipient_email")
    search_help_text = "Last four characters of the code, purchaser id, or recipient email."
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_per_page = 50
    inlines = [GiftCardTransactionInline]
    actions = ["void_cards", "extend_expiry"]
    fieldsets = (
        (None, {"fields": ("masked_code", "status", "currency")}),
        ("Amounts", {"fields": ("original_amount_display", "balance_display")}),
        ("People", {"fields": ("purchaser_id", "recipient_email", "message")}),
        ("Dates", {"fields": ("created_at", "updated_at", "expires_at")}),
        ("Void", {"fields": ("voided_at", "voided_by", "void_reason")}),
    )
    readonly_fields = (
        "masked_code",
        "status",
        "currency",
        "original_amount_display",
        "balance_display",
        "purchaser_id",
        "recipient_email",
        "message",
        "created_at",
        "updated_at",
        "expires_at",
        "voided_at",
        "voided_by",
        "void_reason",
    )

    @admin.display(description="code")
    def masked_code(self, card: GiftCard) -> str:
        return card.masked_code

    @admin.display(description="original", ordering="original_amount")
    def original_amount_display(self, card: GiftCard) -> str:
        return f"{card.original} {card.currency}"

    @admin.display(description="balance", ordering="current_balance")
    def balance_display(self, card: GiftCard) -> str:
        return f"{card.balance} {card.currency}"

    # Cards are issued through the API, `bulk_gift_cards` or other apps' services.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # The change page is read-only: changes are the actions below, through the service.
    def has_change_permission(self, request, obj=None):
        return False

    def has_void_permission(self, request) -> bool:
        return request.user.has_perm("gift_cards.void_giftcard")

    def has_extend_permission(self, request) -> bool:
        return request.user.has_perm("gift_cards.change_giftcard")

    # --- changelist: outstanding liability per currency --------------------------------

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "liability": gift_card_liability_by_currency(),
            "liability_report_url": reverse("admin:gift_cards_giftcard_liability"),
        }
        return super().changelist_view(request, extra_context=extra_context)

    # --- actions -----------------------------------------------------------------------

    def _intermediate(self, request, queryset, *, form, action, title, template):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "form": form,
                "cards": queryset,
                "action": action,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Void selected gift cards", permissions=["void"])
    def void_cards(self, request, queryset):
        form = VoidForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(
                request,
                queryset,
                form=form,
                action="void_cards",
                title="Void gift cards",
                template="admin/gift_cards/giftcard/void_cards.html",
            )
        service = GiftCardService()
        voided = 0
        for card in queryset:
            voided += service.void_card(
                gift_card_id=card.pk, reason=form.cleaned_data["reason"], admin_id=_actor(request)
            )
        self.message_user(request, f"Voided {voided} gift card(s).", messages.SUCCESS)
        return None

    @admin.action(description="Extend expiry of selected gift cards", permissions=["extend"])
    def extend_expiry(self, request, queryset):
        form = ExtendExpiryForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(
                request,
                queryset,
                form=form,
                action="extend_expiry",
                title="Extend gift card expiry",
                template="admin/gift_cards/giftcard/extend_expiry.html",
            )
        service = GiftCardService()
        done, refused = 0, []
        for card in queryset:
            try:
                service.extend_expiry(
                    gift_card_id=card.pk,
                    expires_at=form.cleaned_data["expires_at"],
                    admin_id=_actor(request),
                )
                done += 1
            except (GiftCardError, ValidationError) as exc:
                refused.append(f"{card.masked_code}: {getattr(exc, 'message', exc)}")
        self.message_user(request, f"Extended {done} gift card(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not extended: " + "; ".join(refused), messages.WARNING)
        return None

    # --- liability report --------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "liability/",
                self.admin_site.admin_view(self.liability_view),
                name="gift_cards_giftcard_liability",
            ),
            *super().get_urls(),
        ]

    def liability_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = gift_card_liability_report()
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv")
            stamp = timezone.now().strftime("%Y%m%d")
            response["Content-Disposition"] = (
                f'attachment; filename="gift-card-liability-{stamp}.csv"'
            )
            writer = csv.writer(response)
            writer.writerow(["currency", "card_age", "expiry_month", "cards", "outstanding"])
            for row in rows:
                writer.writerow(
                    [row.currency, row.age, row.expiry_month, row.cards, str(row.outstanding)]
                )
            return response
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for row in rows:
            totals[row.currency] += row.outstanding
        return TemplateResponse(
            request,
            "admin/gift_cards/giftcard/liability_report.html",
            {
                **self.admin_site.each_context(request),
                "title": "Gift card liability",
                "opts": self.model._meta,
                "rows": rows,
                "totals": dict(sorted(totals.items())),
            },
        )


@admin.register(GiftCardTransaction)
class GiftCardTransactionAdmin(admin.ModelAdmin):
    list_display = ("public_id", "gift_card", *LEDGER_FIELDS[:-1])
    list_filter = ("transaction_type", "created_at")
    search_fields = ("=order_id", "=reference_id", "=gift_card__last_four", "=actor_id")
    list_select_related = ("gift_card",)
    readonly_fields = ("public_id", "gift_card", *LEDGER_FIELDS, "idempotency_key")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
