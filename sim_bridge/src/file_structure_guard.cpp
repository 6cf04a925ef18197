// Iterative checks of a file's nesting and node graph, before recursive parsers read it (see the
// header). The XML scanner is ours, not a library's: every XML library packaged here (TinyXML,
// TinyXML-2, libxml2's tree API) builds the tree recursively, the very thing to guard against.
#include "file_structure_guard.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fleetscope::urdf::detail {
namespace {

std::string line_of(std::string_view text, std::size_t at) {
  return "line " + std::to_string(1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
}

[[noreturn]] void too_deep(std::string_view what, std::string_view text, std::size_t at) {
  throw std::runtime_error("nested more than " + std::to_string(kMaxFileNesting) + " " + std::string(what) +
                           " deep (" + line_of(text, at) + ")");
}

// A start or end tag as the scanner meets it. `attributes` is the text after the name.
struct Tag {
  std::string_view name;  // without a namespace prefix
  std::string_view attributes;
  bool closing = false;       // </name>
  bool self_closing = false;  // <name/>
  std::size_t at = 0;
};

// Calls on_tag for every start and end tag, skipping comments, CDATA, processing instructions and
// the DOCTYPE; throws when elements nest deeper than kMaxFileNesting. Malformed XML is left to
// the real parser's message: an unterminated construct ends the scan.
template <typename OnTag>
void scan_xml(std::string_view xml, OnTag&& on_tag) {
  unsigned depth = 0;
  std::size_t i = 0;
  const auto skip_past = [&](std::string_view end) {
    const std::size_t found = xml.find(end, i);
    i = found == std::string_view::npos ? xml.size() : found + end.size();
  };
  while ((i = xml.find('<', i)) != std::string_view::npos) {
    const std::string_view rest = xml.substr(i);
    if (rest.starts_with("<!--")) {
      skip_past("-->");
    } else if (rest.starts_with("<![CDATA[")) {
      skip_past("]]>");
    } else if (rest.starts_with("<?")) {
      skip_past("?>");
    } else if (rest.starts_with("<!")) {
      // <!DOCTYPE ... [internal subset] >: brackets and quotes may hold '>'.
      int brackets = 0;
      char quote = 0;
      for (++i; i < xml.size(); ++i) {
        const char c = xml[i];
        if (quote) {
          if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
          quote = c;
        } else if (c == '[') {
          ++brackets;
        } else if (c == ']') {
          --brackets;
        } else if (c == '>' && brackets <= 0) {
          break;
        }
      }
      ++i;
    } else {
      Tag tag;
      tag.at = i;
      std::size_t j = i + 1;
      tag.closing = j < xml.size() && xml[j] == '/';
      if (tag.closing) ++j;
      const std::size_t name_begin = j;
      while (j < xml.size() && !std::strchr(" \t\r\n/>", xml[j])) ++j;
      tag.name = xml.substr(name_begin, j - name_begin);
      if (const auto colon = tag.name.rfind(':'); colon != std::string_view::npos) tag.name.remove_prefix(colon + 1);
      const std::size_t attributes_begin = j;
      char quote = 0;
      for (; j < xml.size(); ++j) {
        const char c = xml[j];
        if (quote) {
          if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
          quote = c;
        } else if (c == '>') {
          break;
        }
      }
      if (j >= xml.size()) return;  // unterminated: the parser says so
      tag.self_closing = !tag.closing && j > attributes_begin && xml[j - 1] == '/';
      tag.attributes = xml.substr(attributes_begin, j - attributes_begin - (tag.self_closing ? 1 : 0));
      if (tag.closing) {
        if (depth > 0) --depth;
      } else if (!tag.self_closing && ++depth > kMaxFileNesting) {
        too_deep("elements", xml, i);
      }
      on_tag(tag);
      i = j + 1;
    }
  }
}

// The value of attribute `name` in a start tag's attribute text.
std::optional<std::string_view> attribute(std::string_view attributes, std::string_view name) {
  std::size_t i = 0;
  while (i < attributes.size()) {
    while (i < attributes.size() && std::strchr(" \t\r\n", attributes[i])) ++i;
    const std::size_t key_begin = i;
    while (i < attributes.size() && !std::strchr(" \t\r\n=", attributes[i])) ++i;
    const std::string_view key = attributes.substr(key_begin, i - key_begin);
    while (i < attributes.size() && std::strchr(" \t\r\n", attributes[i])) ++i;
    if (i >= attributes.size() || attributes[i] != '=') {
      if (key.empty()) ++i;
      continue;
    }
    ++i;
    while (i < attributes.size() && std::strchr(" \t\r\n", attributes[i])) ++i;
    if (i >= attributes.size() || (attributes[i] != '"' && attributes[i] != '\'')) return std::nullopt;
    const char quote = attributes[i++];
    const std::size_t end = attributes.find(quote, i);
    if (end == std::string_view::npos) return std::nullopt;
    if (key == name) return attributes.substr(i, end - i);
    i = end + 1;
  }
  return std::nullopt;
}

// A node graph: each node's children (possibly shared: instancing), and the roots drawn.
struct NodeGraph {
  std::vector<std::vector<std::size_t>> children;
  std::vector<std::size_t> roots;
};

// Depth-first, iteratively (the graph may be a chain of any length): a cycle, a path longer than
// kMaxFileNesting, or more than kMaxNodeInstances instances unfolded from the roots is refused.
// Nodes no root reaches are walked too (importers may), for cycles and depth.
void check_node_graph(const NodeGraph& graph, std::string_view what) {
  const std::size_t n = graph.children.size();
  enum : std::uint8_t { kNew, kOpen, kDone };
  std::vector<std::uint8_t> state(n, kNew);
  std::vector<std::uint64_t> instances(n, 0);  // of the subtree, saturating at the limit + 1
  std::vector<unsigned> height(n, 0);
  constexpr std::uint64_t kOver = kMaxNodeInstances + 1;
  const auto too_deep_graph = [&] {
    return std::runtime_error("its " + std::string(what) + " graph is nested more than " +
                              std::to_string(kMaxFileNesting) + " levels deep");
  };
  const auto visit = [&](std::size_t start) {
    std::vector<std::pair<std::size_t, std::size_t>> stack{{start, 0}};  // node, next child
    state[start] = kOpen;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < graph.children[node].size()) {
        const std::size_t child = graph.children[node][next++];
        if (state[child] == kOpen) throw std::runtime_error("its " + std::string(what) + " graph has a cycle (a node instances itself)");
        if (state[child] == kNew) {
          if (stack.size() >= kMaxFileNesting) throw too_deep_graph();
          state[child] = kOpen;
          stack.emplace_back(child, 0);
        }
        continue;
      }
      std::uint64_t sum = 1;
      unsigned tallest = 0;
      for (const std::size_t child : graph.children[node]) {
        sum = std::min(kOver, sum + instances[child]);
        tallest = std::max(tallest, height[child]);
      }
      instances[node] = sum;
      height[node] = tallest + 1;
      // A shared subtree met again lower down makes the path longer than the stack shows.
      if (height[node] + (stack.size() - 1) > kMaxFileNesting) throw too_deep_graph();
      state[node] = kDone;
      stack.pop_back();
    }
  };
  std::uint64_t total = 0;
  for (const std::size_t root : graph.roots) {
    if (state[root] == kNew) visit(root);
    total = std::min(kOver, total + instances[root]);
  }
  if (total > kMaxNodeInstances) {
    throw std::runtime_error("its " + std::string(what) + " graph unfolds into more than " +
                             std::to_string(kMaxNodeInstances) + " node instances");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (state[i] == kNew) visit(i);
  }
}

std::string read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open it");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

void check_xml_nesting(std::string_view xml) {
  scan_xml(xml, [](const Tag&) {});
}

void check_collada_structure(std::string_view xml) {
  NodeGraph graph;
  std::map<std::string_view, std::size_t, std::less<>> by_id;
  std::vector<std::pair<std::size_t, std::string_view>> instanced;  // node -> url's id
  // The open elements: a <node>'s index, or none; and whether a <visual_scene> is open.
  std::vector<std::optional<std::size_t>> open;
  unsigned scenes_open = 0;
  const auto innermost_node = [&]() -> std::optional<std::size_t> {
    for (auto it = open.rbegin(); it != open.rend(); ++it) {
      if (*it) return *it;
    }
    return std::nullopt;
  };
  scan_xml(xml, [&](const Tag& tag) {
    if (tag.closing) {
      if (!open.empty()) {
        if (tag.name == "visual_scene" && scenes_open > 0) --scenes_open;
        open.pop_back();
      }
      return;
    }
    std::optional<std::size_t> self;
    if (tag.name == "node") {
      self = graph.children.size();
      graph.children.emplace_back();
      if (const auto parent = innermost_node()) {
        graph.children[*parent].push_back(*self);
      } else if (scenes_open > 0) {
        graph.roots.push_back(*self);
      }
      if (const auto id = attribute(tag.attributes, "id")) by_id.emplace(*id, *self);
    } else if (tag.name == "instance_node") {
      const auto url = attribute(tag.attributes, "url");
      const auto parent = innermost_node();
      if (url && url->starts_with('#') && parent) instanced.emplace_back(*parent, url->substr(1));
    } else if (tag.name == "visual_scene" && !tag.self_closing) {
      ++scenes_open;
    }
    if (!tag.self_closing) open.push_back(self);
  });
  for (const auto& [parent, id] : instanced) {
    if (const auto it = by_id.find(id); it != by_id.end()) graph.children[parent].push_back(it->second);
  }
  check_node_graph(graph, "COLLADA node");
}

void check_gltf_structure(std::string_view json) {
  // Nesting first, iteratively (strings skipped), so that no parser recurses deeply.
  unsigned depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxFileNesting) too_deep("levels", json, i);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw std::runtime_error("malformed glTF: not valid JSON");
  const auto nodes = doc.find("nodes");
  if (nodes == doc.end() || !nodes->is_array()) return;  // no node graph to unfold
  NodeGraph graph;
  graph.children.resize(nodes->size());
  std::vector<bool> has_parent(nodes->size(), false);
  const auto index_of = [&](const nlohmann::json& v) -> std::optional<std::size_t> {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() >= nodes->size()) return std::nullopt;  // the importer says so
    return static_cast<std::size_t>(v.get<std::uint64_t>());
  };
  for (std::size_t i = 0; i < nodes->size(); ++i) {
    const auto& node = (*nodes)[i];
    if (!node.is_object()) continue;
    const auto children = node.find("children");
    if (children == node.end() || !children->is_array()) continue;
    for (const auto& child : *children) {
      if (const auto c = index_of(child)) {
        graph.children[i].push_back(*c);
        has_parent[*c] = true;
      }
    }
  }
  // The scenes' root nodes; without scenes, every node no other node names as a child. A cycle
  // among nodes no scene names is checked too: importers walk every node.
  if (const auto scenes = doc.find("scenes"); scenes != doc.end() && scenes->is_array()) {
    for (const auto& scene : *scenes) {
      if (!scene.is_object()) continue;
      const auto roots = scene.find("nodes");
      if (roots == scene.end() || !roots->is_array()) continue;
      for (const auto& root : *roots) {
        if (const auto r = index_of(root)) graph.roots.push_back(*r);
      }
    }
  }
  if (graph.roots.empty()) {
    for (std::size_t i = 0; i < has_parent.size(); ++i) {
      if (!has_parent[i]) graph.roots.push_back(i);
    }
  }
  check_node_graph(graph, "glTF node");
}

void check_glb_structure(std::string_view file) {
  // Header: magic "glTF", version, length; then chunks of (length, type, data), JSON first.
  const auto u32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    std::memcpy(&v, file.data() + at, sizeof v);
    return v;
  };
  if (file.size() < 20 || file.substr(0, 4) != "glTF") return;  // not binary glTF: the importer says so
  const std::uint32_t chunk_length = u32(12), chunk_type = u32(16);
  if (chunk_type != 0x4E4F534Au) throw std::runtime_error("malformed binary glTF: its first chunk is not JSON");
  if (chunk_length > file.size() - 20) throw std::runtime_error("malformed binary glTF: its JSON chunk runs past the file's end");
  check_gltf_structure(file.substr(20, chunk_length));
}

void check_ply_header(std::string_view file) {
  // "ply", "format ascii|binary_* 1.0", then "element NAME COUNT" each followed by its
  // "property TYPE NAME" or "property list COUNTTYPE TYPE NAME" lines, up to "end_header".
  const std::size_t header_end = file.find("end_header");
  if (!file.starts_with("ply") || header_end == std::string_view::npos) return;  // the importer says so
  const std::size_t body_at = file.find('\n', header_end);
  const std::uint64_t body = body_at == std::string_view::npos ? 0 : file.size() - body_at - 1;
  static const std::map<std::string_view, unsigned, std::less<>> kSizes = {
      {"char", 1}, {"uchar", 1}, {"int8", 1}, {"uint8", 1}, {"short", 2}, {"ushort", 2}, {"int16", 2},
      {"uint16", 2}, {"int", 4}, {"uint", 4}, {"int32", 4}, {"uint32", 4}, {"float", 4}, {"float32", 4},
      {"double", 8}, {"float64", 8}};
  bool ascii = false;
  std::uint64_t least = 0;  // bytes the declared elements need at the very least
  std::uint64_t count = 0, element_bytes = 0;
  std::string_view element;
  const auto close_element = [&] {
    // An ASCII value takes a digit and a separator; a binary one its size (a list its count).
    if (element_bytes > 0 && count > 0) {
      if (count > body / element_bytes) {
        throw std::runtime_error("its PLY header declares " + std::to_string(count) + " '" + std::string(element) +
                                 "' elements, more than its " + std::to_string(body) + " bytes of data can hold");
      }
      least += count * element_bytes;  // each term <= body: no overflow
    }
    element_bytes = 0;
    count = 0;
  };
  std::size_t at = 0;
  while (at < header_end) {
    std::size_t end = file.find('\n', at);
    if (end == std::string_view::npos || end > header_end) end = header_end;
    std::vector<std::string_view> words;
    for (std::size_t i = at; i < end;) {
      while (i < end && std::strchr(" \t\r", file[i])) ++i;
      const std::size_t b = i;
      while (i < end && !std::strchr(" \t\r", file[i])) ++i;
      if (i > b) words.push_back(file.substr(b, i - b));
    }
    at = end + 1;
    if (words.empty()) continue;
    if (words[0] == "format" && words.size() > 1) {
      ascii = words[1] == "ascii";
    } else if (words[0] == "element" && words.size() > 2) {
      close_element();
      element = words[1];
      const std::string digits(words[2]);
      if (digits.empty() || digits.size() > 19 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      count = std::stoull(digits);
    } else if (words[0] == "property" && words.size() > 2) {
      const std::string_view type = words[1] == "list" ? words[2] : words[1];
      const auto size = kSizes.find(type);
      element_bytes += ascii ? 2 : (size == kSizes.end() ? 1 : size->second);
    }
  }
  close_element();
  if (least > body) {
    throw std::runtime_error("its PLY header declares elements needing at least " + std::to_string(least) +
                             " bytes of data, but the file holds " + std::to_string(body));
  }
}

void check_mesh_file_structure(const std::filesystem::path& path, std::string_view lower_extension) {
  if (lower_extension == ".ply") check_ply_header(read_whole(path));
  if (lower_extension == ".dae") {
    check_collada_structure(read_whole(path));
  } else if (lower_extension == ".gltf") {
    check_gltf_structure(read_whole(path));
  } else if (lower_extension == ".glb") {
    check_glb_structure(read_whole(path));
  }
}

}  // namespace fleetscope::urdf::detail
