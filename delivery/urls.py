"""Provider webhooks and the email answer page, mounted at the site root."""

from django.urls import path

from delivery import views

app_name = "delivery-webhooks"

urlpatterns = [
    path("webhooks/twilio/status", views.twilio_status_callback, name="twilio-status"),
    path("webhooks/twilio/sms", views.twilio_inbound_sms, name="twilio-sms"),
    path("webhooks/slack/interactivity", views.slack_interactivity, name="slack-interactivity"),
    path("answer/<str:token>", views.answer_page, name="answer-page"),
    path("answer/<str:token>/save", views.answer_page_save, name="answer-page-save"),
]
