// Axes with round ticks for the dashboards' charts: nice steps (1, 2, 2.5, 5 x 10^k) for values,
// whole seconds, minutes, hours or days for time, decades for log scales. The tick helpers are
// Qt-free arithmetic (tested on their own); the axis helpers keep an axis's ticks round whatever
// sets its range (a fit, a zoom, a pan).
#pragma once

#include <QString>
#include <cstdint>
#include <utility>
#include <vector>

class QAbstractAxis;
class QObject;

namespace fleetscope::app {

// The smallest step of 1, 2, 2.5 or 5 times a power of ten that divides `span` into at most
// `max_intervals` intervals (span <= 0: 1).
double nice_step(double span, int max_intervals);
struct NiceRange {
  double lo = 0.0, hi = 1.0, step = 1.0;
};
// [lo, hi] rounded out to multiples of nice_step(hi - lo, max_intervals); lo == hi widens first.
NiceRange nice_range(double lo, double hi, int max_intervals);
// A printf format for tick labels a `step` apart up to magnitude `max_abs`: fixed decimals enough
// to tell ticks apart (0.25 -> "%.2f"), exponent form for very large or small values.
QString tick_label_format(double step, double max_abs);
// The powers of ten around [lo, hi] (both > 0): a log axis's range.
std::pair<double, double> decade_range(double lo, double hi);
// A round time step (1, 2, 5, 10, 15, 30 s; 1, 2, 5, 10, 15, 30 min; 1, 2, 3, 6, 12 h; 1, 2, 7 d)
// that divides `span_s` into at most `max_intervals` intervals.
double nice_time_step(double span_s, int max_intervals);
// Multiples of `step` within [lo, hi].
std::vector<double> ticks_within(double lo, double hi, double step);
// A tick label for unix time `t_s` on an axis whose ticks are `step_s` apart and which spans
// `span_s` (hh:mm, hh:mm:ss, or with the date when it spans days); local time.
QString wall_time_label(double t_s, double step_s, double span_s);
// A duration label for relative time ticks: "45s", "12m", "2m30s", "3h", "1h20m", "1d4h".
QString duration_label(double t_s);
// The shortest decimal text that reads back as exactly `value` ("0.1", "1e-09", "412").
QString exact_number(double value);

// What the x axis of a chart counts.
enum class XAxisMode { kStep, kWallTime, kRelativeTime };
// An x axis for `mode`: a QValueAxis for steps (round ticks anchored at 0, re-ticked on every range
// change) or a QCategoryAxis over seconds whose ticks are round times with time labels (unix
// seconds for wall time, seconds since the run's start for relative time). Owned by `parent`.
QAbstractAxis* make_x_axis(XAxisMode mode, QObject* parent);
// A y axis: a QValueAxis with round ticks, or a QLogValueAxis (base 10).
QAbstractAxis* make_y_axis(bool log, QObject* parent);
// Sets an x axis from make_x_axis to exactly [lo, hi] (the data's extent: no empty width).
void set_x_range(QAbstractAxis* axis, double lo, double hi);
// Sets a y axis from make_y_axis to nice numbers around [lo, hi] (decades on a log axis), and
// keeps its range while the data still fills most of it: a range change relays labels out.
// `from_zero`: a linear axis starts at 0 (stacked seconds).
void fit_y_axis(QAbstractAxis* axis, double lo, double hi, bool from_zero = false);
// The axis's current range as numbers (value, log and category axes).
std::pair<double, double> axis_range(const QAbstractAxis* axis);

}  // namespace fleetscope::app
