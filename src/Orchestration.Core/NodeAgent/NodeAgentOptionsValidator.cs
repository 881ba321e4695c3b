using Microsoft.Extensions.Options;
using Orchestration.Resources;

namespace Orchestration.NodeAgent;

/// <summary>Checks at start that a node's name is a valid object name and its durations make sense.</summary>
public sealed class NodeAgentOptionsValidator : IValidateOptions<NodeAgentOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, NodeAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        foreach (var problem in NameValidation.CheckSubdomain(options.NodeName))
        {
            failures.Add($"NodeAgentOptions.NodeName \"{options.NodeName}\" is not a valid node name: {problem}");
        }

        if (options.LeaseDuration <= TimeSpan.Zero)
        {
            failures.Add($"NodeAgentOptions.LeaseDuration {options.LeaseDuration} must be positive");
        }

        if (options.RenewInterval <= TimeSpan.Zero || options.RenewInterval >= options.LeaseDuration)
        {
            failures.Add($"NodeAgentOptions.RenewInterval {options.RenewInterval} must be positive and shorter than the LeaseDuration {options.LeaseDuration}");
        }

        if (options.Workers < 1)
        {
            failures.Add($"NodeAgentOptions.Workers {options.Workers} must be at least 1");
        }

        if (options.MaxPods < 1)
        {
            failures.Add($"NodeAgentOptions.MaxPods {options.MaxPods} must be at least 1");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
