from django.urls import path

from gift_cards.api import views

app_name = "gift_cards"

urlpatterns = [
    path("gift-cards/", views.GiftCardCreateApi.as_view(), name="gift-card-create"),
    path("gift-cards/redeem/", views.GiftCardRedeemApi.as_view(), name="gift-card-redeem"),
    path("gift-cards/balance/", views.GiftCardBalanceApi.as_view(), name="gift-card-balance"),
    path("gift-cards/refunds/", views.GiftCardRefundApi.as_view(), name="gift-card-refund"),
    path("gift-cards/transfers/", views.GiftCardTransferApi.as_view(), name="gift-card-transfer"),
    path("gift-cards/void/", views.GiftCardVoidApi.as_view(), name="gift-card-void"),
    path("gift-cards/bulk/", views.GiftCardBulkCreateApi.as_view(), name="gift-card-bulk"),
    path("gift-cards/<int:pk>/", views.GiftCardDetailApi.as_view(), name="gift-card-detail"),
]
