#ifndef MLCUBE_REMOTE_COMMON_PROTOCOL_FEATURES_H_
#define MLCUBE_REMOTE_COMMON_PROTOCOL_FEATURES_H_

// Names of optional protocol features an agent lists in
// ListCubesResponse.features.
// A client uses a feature only when the agent lists it, so either side may
// be older than the other.

namespace mlcube {

// ManifestEntry.chunk_list: big files are sent as chunks and spliced.
inline constexpr char kFeatureChunkedFiles[] = "chunked-files";
// BlobData.compressor / UploadChunk.compressor / read compressors: zstd.
inline constexpr char kFeatureZstd[] = "zstd";

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_PROTOCOL_FEATURES_H_
