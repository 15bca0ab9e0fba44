from django.urls import path

from . import api

urlpatterns = [
    path("tips/", api.TipListView.as_view(), name="tip-list"),
    path("tips/<slug:slug>/", api.TipDetailView.as_view(), name="tip-detail"),
    path("categories/", api.CategoryListView.as_view(), name="category-list"),
]
