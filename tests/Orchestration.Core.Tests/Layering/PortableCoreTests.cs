using System.Reflection;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Layering;

/// <summary>
/// An app that embeds the scheduler references Abstractions and Core only: it must get no web
/// server, no daemon hosting and no native calls with them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PortableCoreTests
{
    private static readonly Assembly[] Portable = [typeof(ObjectRegistry).Assembly, typeof(IStateStore).Assembly];

    [Fact]
    public void Core_and_abstractions_reference_no_web_server_runtime_or_grpc_assembly()
    {
        foreach (var assembly in Portable)
        {
            assembly.GetReferencedAssemblies().Select(a => a.Name!)
                .Should().NotContain(name => name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
                    || name.StartsWith("Orchestration.Runtime.", StringComparison.Ordinal)
                    || name.StartsWith("Grpc", StringComparison.Ordinal)
                    || name.StartsWith("Docker", StringComparison.Ordinal), because: $"{assembly.GetName().Name} must stay portable");
        }
    }

    [Fact]
    public void Core_and_abstractions_declare_no_native_calls()
    {
        var native = Portable
            .SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Where(m => m.Attributes.HasFlag(MethodAttributes.PinvokeImpl))
            .Select(m => $"{m.DeclaringType!.FullName}.{m.Name}");
        native.Should().BeEmpty();
    }

    [Fact]
    public void Core_hosts_no_daemons()
    {
        typeof(ObjectRegistry).Assembly.GetTypes().Select(t => t.Namespace ?? "")
            .Should().NotContain(ns => ns.Contains(".Daemons", StringComparison.Ordinal));
    }
}
