// cluster/ is filled by the cluster issues (ring, peer channel, coordinator).
// This translation unit keeps the library target non-empty until then.
namespace shoal::cluster {}
