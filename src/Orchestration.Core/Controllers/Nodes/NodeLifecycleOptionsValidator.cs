using Microsoft.Extensions.Options;

namespace Orchestration.Controllers.Nodes;

/// <summary>Checks at start that the node lifecycle's durations are positive.</summary>
public sealed class NodeLifecycleOptionsValidator : IValidateOptions<NodeLifecycleOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, NodeLifecycleOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.GracePeriod <= TimeSpan.Zero)
        {
            failures.Add($"NodeLifecycleOptions.GracePeriod {options.GracePeriod} must be positive");
        }

        if (options.CheckInterval <= TimeSpan.Zero)
        {
            failures.Add($"NodeLifecycleOptions.CheckInterval {options.CheckInterval} must be positive");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
