// What a tab of the dashboards window is, and the one table of them: each panel's id (for
// --dashboard-tab and DashboardWindow::showPanel), tab title, PNG file name and factory. The
// window's tabs, its screenshots and the command line all derive from dashboard_panels(), so a
// panel is added by adding a row.
#pragma once

#include <QAnyStringView>
#include <QImage>
#include <QWidget>
#include <span>
#include <vector>

namespace fleetscope::app {

class TelemetryStore;

// A panel of the dashboards window. The window calls refresh() once a second and when its tab is
// shown; a panel reads the store it was given at construction (no Q_OBJECT of its own: the
// panels have theirs).
class DashboardPanel : public QWidget {
 public:
  using QWidget::QWidget;
  // Brings what the panel shows up to date (cheaply when it is not on screen).
  virtual void refresh() = 0;
  // What --panels-screenshot and "Save panel PNG..." write: <file>.png, then <file>-2.png and on
  // when there are more. By default the panel as it is on screen.
  virtual std::vector<QImage> snapshots() { return {grab().toImage()}; }
};

struct PanelSpec {
  const char* id;     // --dashboard-tab NAME, DashboardWindow::showPanel(id)
  const char* title;  // the tab's text (translated in DashboardWindow's context)
  const char* file;   // <file>.png for --panels-screenshot and "Save panel PNG..."
  // Creates the panel; `store` outlives it.
  DashboardPanel* (*make)(const TelemetryStore& store, QWidget* parent);
};

// Every panel, in tab order (defined in dashboard_window.cpp, beside the panel types).
std::span<const PanelSpec> dashboard_panels();
// The index of panel `id` in dashboard_panels(), or -1.
int dashboard_panel_index(QAnyStringView id);

}  // namespace fleetscope::app
