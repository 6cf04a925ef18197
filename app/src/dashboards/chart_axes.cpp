#include "chart_axes.h"

#include <QCategoryAxis>
#include <QDateTime>
#include <QLogValueAxis>
#include <QValueAxis>
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace fleetscope::app {
namespace {

constexpr int kXIntervals = 6;     // a chart is about 500 px wide: ticks 80 px or more apart
constexpr int kTimeIntervals = 5;  // time labels ("12:03:30") are wider than step numbers
constexpr int kYIntervals = 5;     // and about 200 px tall
constexpr double kEps = 1e-9;

int intervals_of(const QValueAxis* axis) {
  return axis->orientation() == Qt::Horizontal ? kXIntervals : kYIntervals;
}

// Round ticks for whatever range a step axis gets (a fit, a zoom, a pan).
void retick_value_axis(QValueAxis* axis) {
  const double lo = axis->min(), hi = axis->max();
  const double step = nice_step(hi - lo, intervals_of(axis));
  axis->setTickAnchor(0.0);
  axis->setTickInterval(step);
  axis->setLabelFormat(tick_label_format(step, std::max(std::abs(lo), std::abs(hi))));
}

// A range change lays the ticks out at the current interval before rangeChanged re-ticks: widen
// the interval first, or a fit from 0..1 to 0..1e6 would lay out millions of ticks.
void set_value_range(QValueAxis* axis, double lo, double hi) {
  if (axis->min() == lo && axis->max() == hi) return;
  if (axis->tickType() == QValueAxis::TicksDynamic) {
    const double step = nice_step(hi - lo, intervals_of(axis));
    if (step > axis->tickInterval()) axis->setTickInterval(step);
  }
  axis->setRange(lo, hi);
}

// Ticks on round times, labelled as times: categories ending at each tick (labels on the value).
void retick_time_axis(QCategoryAxis* axis, XAxisMode mode) {
  const double lo = axis->min(), hi = axis->max(), span = hi - lo;
  const double step = nice_time_step(span, kTimeIntervals);
  // Wall-clock ticks fall on round local times (a whole hour in a +05:30 zone too).
  const double offset = mode == XAxisMode::kWallTime
                            ? QDateTime::fromMSecsSinceEpoch(static_cast<qint64>(lo * 1000.0)).offsetFromUtc()
                            : 0.0;
  std::vector<double> ticks = ticks_within(lo + offset, hi + offset, step);
  QStringList labels;
  for (double& t : ticks) {
    t -= offset;
    labels << (mode == XAxisMode::kWallTime ? wall_time_label(t, step, span) : duration_label(t));
  }
  const QStringList current = axis->categoriesLabels();
  if (current == labels) {
    bool same = true;
    for (qsizetype i = 0; i < labels.size() && same; ++i) same = axis->endValue(labels[i]) == ticks[static_cast<std::size_t>(i)];
    if (same) return;  // new categories relay the chart out: only when the ticks moved
  }
  for (const QString& label : current) axis->remove(label);
  // Start just before the range so that a tick on its first value still gets its label.
  axis->setStartValue(lo - std::max(span, 1.0) * 1e-6);
  for (qsizetype i = 0; i < labels.size(); ++i) axis->append(labels[i], ticks[static_cast<std::size_t>(i)]);
}

}  // namespace

double nice_step(double span, int max_intervals) {
  if (!(span > 0) || !std::isfinite(span) || max_intervals < 1) return 1.0;
  const double raw = span / max_intervals;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (m * power >= raw * (1.0 - kEps)) return m * power;
  }
  return 10.0 * power;
}

NiceRange nice_range(double lo, double hi, int max_intervals) {
  if (!(hi > lo)) {
    const double pad = lo == 0.0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  // The step of the rounded range may be coarser than the data's: round out until it fits.
  double step = nice_step(hi - lo, max_intervals);
  for (int i = 0; i < 3; ++i) {
    const double a = std::floor(lo / step + kEps) * step, b = std::ceil(hi / step - kEps) * step;
    const double wider = nice_step(b - a, max_intervals);
    if (wider <= step * (1.0 + kEps)) return {a, b, step};
    step = wider;
  }
  return {std::floor(lo / step + kEps) * step, std::ceil(hi / step - kEps) * step, step};
}

QString tick_label_format(double step, double max_abs) {
  if (!(step > 0) || !std::isfinite(step)) return "%g";
  const double exponent = std::floor(std::log10(step) + kEps);
  const double mantissa = step / std::pow(10.0, exponent);
  const int extra = std::abs(mantissa - 2.5) < 1e-6 ? 1 : 0;  // 2.5, 7.5: one more digit
  const int decimals = std::max(0, static_cast<int>(-exponent) + extra);
  if (max_abs < 1e6 && (max_abs >= 1e-3 || max_abs == 0) && decimals <= 6) return QString("%.%1f").arg(decimals);
  const double top = max_abs > 0 ? std::floor(std::log10(max_abs) + kEps) : exponent;
  const int digits = std::clamp(static_cast<int>(top - exponent) + extra, 0, 12);
  return QString("%.%1e").arg(digits);
}

std::pair<double, double> decade_range(double lo, double hi) {
  if (!(lo > 0)) lo = hi > 0 ? hi : 1.0;
  if (!(hi >= lo)) hi = lo;
  // 10^-k as 1 / 10^k: the double nearest to 1e-9 (pow(10, -9) may miss it by an ulp).
  const auto power_of_ten = [](double k) { return k >= 0 ? std::pow(10.0, k) : 1.0 / std::pow(10.0, -k); };
  const double a = power_of_ten(std::floor(std::log10(lo) + kEps));
  double b = power_of_ten(std::ceil(std::log10(hi) - kEps));
  if (b <= a) b = a * 10.0;
  return {a, b};
}

double nice_time_step(double span_s, int max_intervals) {
  if (!(span_s > 0) || !std::isfinite(span_s) || max_intervals < 1) return 1.0;
  const double raw = span_s / max_intervals;
  if (raw < 1.0) return nice_step(span_s, max_intervals);  // sub-second: decimal steps
  static constexpr std::array<double, 20> steps = {1,    2,    5,     10,    15,    30,    60,
                                                   120,  300,  600,   900,   1800,  3600,  7200,
                                                   10800, 21600, 43200, 86400, 172800, 604800};
  for (double s : steps) {
    if (s >= raw * (1.0 - kEps)) return s;
  }
  return nice_step(raw / 604800.0, 1) * 604800.0;  // whole weeks, rounded
}

std::vector<double> ticks_within(double lo, double hi, double step) {
  std::vector<double> out;
  if (!(step > 0) || !(hi >= lo) || (hi - lo) / step > 1000) return out;
  const double first = std::ceil(lo / step - kEps), last = std::floor(hi / step + kEps);
  for (double k = first; k <= last; k += 1.0) out.push_back(k * step);
  return out;
}

QString wall_time_label(double t_s, double step_s, double span_s) {
  const QDateTime time = QDateTime::fromMSecsSinceEpoch(std::llround(t_s * 1000.0));
  if (step_s >= 86400.0) return time.toString("MM-dd");
  if (span_s > 86400.0) return time.toString("MM-dd hh:mm");
  if (step_s < 1.0) return time.toString("hh:mm:ss.zzz");
  if (step_s < 60.0) return time.toString("hh:mm:ss");
  return time.toString("hh:mm");
}

QString duration_label(double t_s) {
  if (t_s < 0) return "-" + duration_label(-t_s);
  if (t_s < 60.0 && std::abs(t_s - std::round(t_s)) > 1e-6) return QString::number(t_s, 'g', 6) + "s";
  const auto total = static_cast<long long>(std::llround(t_s));
  if (total == 0) return "0s";
  const long long units[] = {total / 86400, total % 86400 / 3600, total % 3600 / 60, total % 60};
  const char* names[] = {"d", "h", "m", "s"};
  QString out;
  for (int i = 0; i < 4; ++i) {
    if (units[i] != 0) out += QString::number(units[i]) + names[i];
  }
  return out;
}

QString exact_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return QString::fromLatin1(buffer, static_cast<qsizetype>(result.ptr - buffer));
}

QAbstractAxis* make_x_axis(XAxisMode mode, QObject* parent) {
  if (mode == XAxisMode::kStep) {
    auto* axis = new QValueAxis(parent);
    axis->setTitleText(QObject::tr("step"));
    axis->setTickType(QValueAxis::TicksDynamic);
    QObject::connect(axis, &QValueAxis::rangeChanged, axis, [axis] { retick_value_axis(axis); });
    retick_value_axis(axis);
    return axis;
  }
  auto* axis = new QCategoryAxis(parent);
  axis->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
  axis->setTitleText(mode == XAxisMode::kWallTime ? QObject::tr("wall time") : QObject::tr("time since start"));
  QObject::connect(axis, &QValueAxis::rangeChanged, axis, [axis, mode] { retick_time_axis(axis, mode); });
  retick_time_axis(axis, mode);
  return axis;
}

QAbstractAxis* make_y_axis(bool log, QObject* parent) {
  if (log) {
    auto* axis = new QLogValueAxis(parent);
    axis->setBase(10.0);
    axis->setLabelFormat("%g");
    axis->setMinorTickCount(-1);  // 2..9 between the decades
    return axis;
  }
  auto* axis = new QValueAxis(parent);
  axis->setTickType(QValueAxis::TicksDynamic);
  QObject::connect(axis, &QValueAxis::rangeChanged, axis, [axis] { retick_value_axis(axis); });
  retick_value_axis(axis);
  return axis;
}

void set_x_range(QAbstractAxis* axis, double lo, double hi) {
  if (!(hi > lo)) {
    // One point: a unit around it (a second for time axes, a step for steps).
    lo -= 0.5;
    hi += 0.5;
  }
  if (auto* value = qobject_cast<QValueAxis*>(axis)) set_value_range(value, lo, hi);
}

void fit_y_axis(QAbstractAxis* axis, double lo, double hi, bool from_zero) {
  if (auto* log = qobject_cast<QLogValueAxis*>(axis)) {
    const auto [a, b] = decade_range(lo, hi);
    if (log->min() != a || log->max() != b) log->setRange(a, b);
    return;
  }
  auto* value = qobject_cast<QValueAxis*>(axis);
  if (!value) return;
  if (from_zero) lo = std::min(lo, 0.0);
  const NiceRange nice = nice_range(lo, hi, kYIntervals);
  // Keep the current range while it holds the data and is no wider than the nice range plus a
  // step each side (data moving inside a range should not relay the labels out every refresh).
  const bool holds = value->min() <= lo && value->max() >= hi;
  const bool snug = value->min() >= nice.lo - nice.step * (1 + kEps) && value->max() <= nice.hi + nice.step * (1 + kEps);
  if (holds && snug && !(from_zero && value->min() != nice.lo)) return;
  set_value_range(value, nice.lo, nice.hi);
}

std::pair<double, double> axis_range(const QAbstractAxis* axis) {
  if (const auto* value = qobject_cast<const QValueAxis*>(axis)) return {value->min(), value->max()};
  if (const auto* log = qobject_cast<const QLogValueAxis*>(axis)) return {log->min(), log->max()};
  return {0.0, 1.0};
}

}  // namespace fleetscope::app
