from django.urls import path

from returns.views import order_events_webhook

app_name = "returns-webhooks"

urlpatterns = [
    path("webhooks/orders/", order_events_webhook, name="order-events"),
]
