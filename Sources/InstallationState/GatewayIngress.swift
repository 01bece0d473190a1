import FrostbyteCrypto
import BundleFormat
import FoundationEssentials
import Glibc

/// How the host reaches one installation's gateway, and the names its firewall rules
/// use. Releases with an ingress network publish the gateway's port on
/// `publish` (`ADDRESS:PORT`, loopback unless the operator names another address);
/// older releases are reached at the gateway's fixed address.
public enum GatewayIngress {
    /// The host interface names of the project's bridges: `fb<10 hex>n` for the
    /// internal network, `fb<10 hex>i` for the ingress network, the hex taken from
    /// SHA-256 of the project name. Fixed per project (so every compose call of an
    /// installation passes the same values), at most 15 characters (the kernel's
    /// limit), and known before the networks exist, so the firewall rules that
    /// guard them are in place before any container starts.
    public static func bridgeNames(project: String) -> (internal: String, ingress: String) {
        let stem = "fb" + SHA256Hasher.hash(Data(project.utf8)).hex.prefix(10)
        return ("\(stem)n", "\(stem)i")
    }

    /// The URL base at which the host reaches the gateway for a `publish` binding:
    /// `http://127.0.0.1:8080` for `127.0.0.1:8080` or `0.0.0.0:8080` (a wildcard
    /// binding is reached on loopback), `http://192.0.2.10:8080` for that address.
    public static func url(publish: String) -> String? {
        guard let (address, port) = binding(publish: publish) else { return nil }
        return "http://\(address == "0.0.0.0" ? "127.0.0.1" : address):\(port)"
    }

    /// `ADDRESS:PORT` (a `publish` binding) → (ADDRESS, PORT); nil for anything else.
    public static func binding(publish: String) -> (address: String, port: UInt16)? {
        guard let colon = publish.lastIndex(of: ":"), let port = UInt16(publish[publish.index(after: colon)...]) else {
            return nil
        }
        return (String(publish[..<colon]), port)
    }

    /// Where the host reaches the gateway of an installed release: its published
    /// address when the receipt records one, else its fixed address and port.
    public static func url(receipt: InstallationReceipt, gateway: Manifest.Gateway?) -> String? {
        if let publish = receipt.publish { return url(publish: publish) }
        guard let gateway else { return nil }
        return "http://\(receipt.gatewayIP ?? gateway.ipv4Address):\(gateway.port)"
    }
}
