using k8s.Models;

namespace Orchestration.Scheduling;

/// <summary>A topology spread constraint, compiled.</summary>
/// <param name="MaxSkew">How much more matching pods one domain may hold than the emptiest.</param>
/// <param name="TopologyKey">The node label that defines a domain.</param>
/// <param name="DoNotSchedule">True for <c>whenUnsatisfiable: DoNotSchedule</c> (a filter); false for <c>ScheduleAnyway</c> (a score).</param>
/// <param name="Selector">Which pods are counted.</param>
/// <param name="MinDomains">With DoNotSchedule: below this many domains, the global minimum counts as 0.</param>
public sealed record TopologySpreadConstraint(int MaxSkew, string TopologyKey, bool DoNotSchedule, PodSelector Selector, int? MinDomains = null)
{
    /// <summary>Compiles an API constraint.</summary>
    public static TopologySpreadConstraint From(V1TopologySpreadConstraint constraint)
    {
        ArgumentNullException.ThrowIfNull(constraint);
        return new TopologySpreadConstraint(
            constraint.MaxSkew,
            constraint.TopologyKey ?? "",
            constraint.WhenUnsatisfiable != "ScheduleAnyway",
            PodSelector.From(constraint.LabelSelector),
            constraint.MinDomains);
    }
}
