using Orchestration.NodeAgent;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>kubelet's $(VAR) expansion, case by case.</summary>
[Trait("Category", "Unit")]
public sealed class VariableExpansionTests
{
    private static readonly Dictionary<string, string> Defined = new() { ["A"] = "x", ["EMPTY"] = "" };

    [Theory]
    [InlineData("$(A)", "x")]
    [InlineData("pre-$(A)-post", "pre-x-post")]
    [InlineData("$(A)$(A)", "xx")]
    [InlineData("$(EMPTY)|", "|")]
    [InlineData("$(UNDEFINED)", "$(UNDEFINED)")]
    [InlineData("$$(A)", "$(A)")]
    [InlineData("$$$(A)", "$x")]
    [InlineData("$$", "$")]
    [InlineData("a$b", "a$b")]
    [InlineData("$(A", "$(A")]
    [InlineData("$($(A)", "$($(A)")]
    [InlineData("cost: 5$", "cost: 5$")]
    [InlineData("$()", "$()")]
    [InlineData("no references", "no references")]
    public void Expands_defined_references_and_leaves_everything_else_as_kubelet_does(string input, string expected)
    {
        VariableExpansion.Expand(input, name => Defined.TryGetValue(name, out var value) ? value : null).Should().Be(expected);
    }
}
