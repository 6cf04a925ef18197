// Reads a grasp scheduler's manifest.json into the same GraspState the telemetry gives, so the
// Grasp jobs panel shows either. The fields read are listed in README.md ("Grasp manifest").
//
// Only a regular file of at most kMaxManifestBytes is read: a FIFO, a device (/dev/zero), a
// directory or a socket is refused from its stat, before it is opened, and the file is then
// opened non-blocking and checked again (fstat) against being swapped in between.
#pragma once

#include <QByteArray>
#include <QString>
#include <QtGlobal>
#include <variant>

#include "telemetry_store.h"

namespace fleetscope::app {

inline constexpr qint64 kMaxManifestBytes = qint64{16} << 20;  // 16 MiB

// The state, or a message that says what is wrong and where (file, object, field).
std::variant<GraspState, QString> parse_grasp_manifest(const QByteArray& json, const QString& path,
                                                       double now_unix_s);

// The file's bytes, or a message naming the file and why it is not read. Never blocks on the
// file's kind (any thread).
std::variant<QByteArray, QString> read_manifest_file(const QString& path);

// Empty when `path` is a regular file within the limit, else the message read_manifest_file
// would give (for the command line, which refuses to start on it).
QString check_manifest_file(const QString& path);

// read_manifest_file, then parse_grasp_manifest (any thread: the panel runs it off the GUI one).
std::variant<GraspState, QString> load_grasp_manifest(const QString& path, double now_unix_s);

}  // namespace fleetscope::app
