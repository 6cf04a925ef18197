// Reads a grasp scheduler's manifest.json into the same GraspState the telemetry gives, so the
// Grasp jobs panel shows either. The fields read are listed in README.md ("Grasp manifest").
#pragma once

#include <QByteArray>
#include <QString>
#include <variant>

#include "telemetry_store.h"

namespace fleetscope::app {

// The state, or a message that says what is wrong and where (file, object, field).
std::variant<GraspState, QString> parse_grasp_manifest(const QByteArray& json, const QString& path,
                                                       double now_unix_s);

}  // namespace fleetscope::app
