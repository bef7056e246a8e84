"""Push: APNs (MDM certificate; app token auth) and FCM clients, credentials, the pusher."""
