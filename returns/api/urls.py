from django.urls import path

from returns.api import views

app_name = "returns"

urlpatterns = [
    path(
        "returns/access/request/",
        views.CustomerAccessRequestApi.as_view(),
        name="customer-access-request",
    ),
    path(
        "returns/access/confirm/",
        views.CustomerAccessConfirmApi.as_view(),
        name="customer-access-confirm",
    ),
    path("returns/", views.ReturnListCreateApi.as_view(), name="return-list"),
    path(
        "orders/<str:order_id>/return-eligibility/",
        views.ReturnEligibilityApi.as_view(),
        name="return-eligibility",
    ),
    path("returns/<str:rma_number>/", views.ReturnDetailApi.as_view(), name="return-detail"),
    path("returns/<str:rma_number>/cancel/", views.ReturnCancelApi.as_view(), name="return-cancel"),
    path(
        "returns/<str:rma_number>/approve/", views.ReturnApproveApi.as_view(), name="return-approve"
    ),
    path("returns/<str:rma_number>/reject/", views.ReturnRejectApi.as_view(), name="return-reject"),
    path(
        "returns/<str:rma_number>/receive/", views.ReturnReceiveApi.as_view(), name="return-receive"
    ),
    path(
        "returns/<str:rma_number>/complete/",
        views.ReturnCompleteApi.as_view(),
        name="return-complete",
    ),
    path("returns/<str:rma_number>/label/", views.ReturnLabelApi.as_view(), name="return-label"),
]
