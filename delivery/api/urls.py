from django.urls import path

from delivery.api.views import ConsentChangeApi, DeliveryHealthApi

app_name = "delivery"

urlpatterns = [
    path("consents/", ConsentChangeApi.as_view(), name="consent-change"),
    path("delivery/health/", DeliveryHealthApi.as_view(), name="delivery-health"),
]
