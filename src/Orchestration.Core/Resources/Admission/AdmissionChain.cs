namespace Orchestration.Resources.Admission;

/// <summary>
/// The admission plugins every write passes, as kube-apiserver orders them: the mutating ones
/// (after the object's defaults), then the kind's own checks, then the validating ones, then the
/// store. The defaults are ServiceAddressAllocation and LimitRanger (mutating), NamespaceLifecycle, PodSecurity and
/// ResourceQuota (validating); DI adds a user's plugins after them (<c>TryAddEnumerable</c> of
/// <see cref="IMutatingAdmissionPlugin"/> or <see cref="IValidatingAdmissionPlugin"/>).
/// </summary>
public sealed class AdmissionChain
{
    private readonly IReadOnlyList<IMutatingAdmissionPlugin> _mutating;
    private readonly IReadOnlyList<IValidatingAdmissionPlugin> _validating;

    /// <summary>A chain of these plugins, each list in its order.</summary>
    public AdmissionChain(IEnumerable<IMutatingAdmissionPlugin> mutating, IEnumerable<IValidatingAdmissionPlugin> validating)
    {
        ArgumentNullException.ThrowIfNull(mutating);
        ArgumentNullException.ThrowIfNull(validating);
        _mutating = [.. mutating];
        _validating = [.. validating];
    }

    /// <summary>The names of the plugins, in the order they run.</summary>
    public IReadOnlyList<string> Names => [.. _mutating.Select(p => p.Name), .. _validating.Select(p => p.Name)];

    /// <summary>The default chain over a registry's store: service address allocation and LimitRanger, then namespace lifecycle, NodeRestriction, Pod Security and ResourceQuota.</summary>
    public static AdmissionChain CreateDefault(State.IStateStore store, ServiceAddresses addresses) =>
        new([new ServiceAddressAllocation(store, addresses), new LimitRanger(store)], [new NamespaceLifecycle(store), new NodeRestriction(), new PodSecurity(store), new ResourceQuotaAdmission(store)]);

    /// <summary>The mutating phase: each mutating plugin in order. On a refusal, what earlier plugins did is undone.</summary>
    public async ValueTask MutateAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            foreach (var plugin in _mutating)
            {
                await plugin.AdmitAsync(request, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await request.AbortAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The validating phase (after the kind's own checks): each validating plugin in order. On a refusal, what the mutating plugins did is undone.</summary>
    public async ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            foreach (var plugin in _validating)
            {
                await plugin.ValidateAsync(request, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await request.AbortAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
