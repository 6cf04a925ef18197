// Where a URDF's meshes are: package://, file://, absolute and relative paths, resolved the
// way ROS tools do (a package is a directory whose package.xml names it).
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "urdf_internal.hpp"

namespace fleetscope::urdf::detail {

namespace fs = std::filesystem;
using ipc::ErrorCode;

namespace {

constexpr std::string_view kPackageScheme = "package://";
constexpr std::string_view kFileScheme = "file://";
constexpr int kSearchDepth = 3;              // levels below a search path entry
constexpr std::size_t kSearchEntries = 20000;  // entries looked at per entry, at most

bool path_exists(const fs::path& p) {
  std::error_code ec;  // unreadable counts as absent: no exception for a permission problem
  return fs::exists(p, ec);
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// The <name> of a package.xml; empty if there is none or it cannot be read.
std::string package_xml_name(const fs::path& dir) {
  const fs::path xml = dir / "package.xml";
  if (!is_file(xml)) return {};
  std::ifstream in(xml);
  std::string text(64 * 1024, '\0');  // the name comes first; a package.xml is small
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  const auto open = text.find("<name>");
  const auto close = text.find("</name>", open);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::string name = text.substr(open + 6, close - open - 6);
  const auto first = name.find_first_not_of(" \t\r\n");
  const auto last = name.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? std::string() : name.substr(first, last - first + 1);
}

// A directory is package `name` when its package.xml says so, or (without one) when it is
// called `name`: mesh folders copied out of ROS often lose their package.xml.
bool is_package(const fs::path& dir, const std::string& name) {
  if (!is_dir(dir)) return false;
  const std::string declared = package_xml_name(dir);
  return declared.empty() ? dir.filename() == name : declared == name;
}

std::optional<fs::path> search_below(const fs::path& root, const std::string& name) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  std::size_t seen = 0;
  for (; !ec && it != end && seen < kSearchEntries; it.increment(ec), ++seen) {
    if (!it->is_directory(ec)) continue;
    const fs::path& dir = it->path();
    if (dir.filename().string().starts_with('.')) {
      it.disable_recursion_pending();
      continue;
    }
    if (is_package(dir, name)) return dir;
    // As rospack: no packages inside packages, and only a few levels down.
    if (it.depth() + 1 >= kSearchDepth || is_file(dir / "package.xml")) it.disable_recursion_pending();
  }
  return std::nullopt;
}

}  // namespace

ResourceResolver::ResourceResolver(const fs::path& base_directory, const UrdfOptions& options)
    : base_(base_directory), roots_(options.search_path) {
  if (const char* env = options.use_ros_package_path ? std::getenv("ROS_PACKAGE_PATH") : nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string_view entry = rest.substr(0, colon);
      if (!entry.empty()) roots_.emplace_back(entry);
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
}

std::optional<fs::path> ResourceResolver::find_package(const std::string& package) {
  if (const auto it = packages_.find(package); it != packages_.end()) return it->second;
  std::optional<fs::path> found;
  for (const fs::path& root : roots_) {
    if (is_package(root, package)) found = root;
    else if (is_package(root / package, package)) found = root / package;
    else found = search_below(root, package);
    if (found) break;
  }
  // A URDF inside its own package finds it upwards.
  for (fs::path dir = base_; !found; dir = dir.parent_path()) {
    if (is_package(dir, package)) found = dir;
    if (dir == dir.parent_path() || dir.empty()) break;
  }
  packages_.emplace(package, found);
  return found;
}

fs::path ResourceResolver::resolve(const std::string& uri, const std::string& urdf_file, const std::string& link) {
  auto not_found = [&](const std::string& why) -> fs::path {
    throw UrdfError(ErrorCode::kNotFound, urdf_file, link, "mesh '" + uri + "' not found: " + why);
  };
  auto places = [&] {
    std::string out;
    for (const auto& root : roots_) out += "'" + root.string() + "', ";
    return out + "the URDF's directory '" + base_.string() + "' and its parents";
  };
  if (uri.empty()) throw UrdfError(ErrorCode::kInvalidArgument, urdf_file, link, "a mesh has no filename");
  const std::string_view view(uri);
  if (view.starts_with(kPackageScheme)) {
    const std::string rest(view.substr(kPackageScheme.size()));
    const auto slash = rest.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size()) {
      throw UrdfError(ErrorCode::kInvalidArgument, urdf_file, link,
                      "mesh '" + uri + "' is not a package URI (package://PACKAGE/PATH)");
    }
    const std::string package = rest.substr(0, slash);
    const std::string relative = rest.substr(slash + 1);
    const auto dir = find_package(package);
    if (!dir) return not_found("no package '" + package + "' in " + places());
    const fs::path path = *dir / relative;
    if (!path_exists(path)) return not_found("package '" + package + "' at '" + dir->string() + "' has no '" + relative + "'");
    return path;
  }
  fs::path path = view.starts_with(kFileScheme) ? fs::path(std::string(view.substr(kFileScheme.size()))) : fs::path(uri);
  if (path.is_absolute()) {
    if (!path_exists(path)) return not_found("no such file");
    return path;
  }
  if (view.starts_with(kFileScheme)) {
    throw UrdfError(ErrorCode::kInvalidArgument, urdf_file, link, "mesh '" + uri + "' is a file URI without an absolute path");
  }
  if (path_exists(base_ / path)) return base_ / path;
  for (const auto& root : roots_) {
    if (path_exists(root / path)) return root / path;
  }
  std::string looked = "'" + base_.string() + "'";
  for (const auto& root : roots_) looked += ", '" + root.string() + "'";
  return not_found("not in " + looked);
}

}  // namespace fleetscope::urdf::detail
