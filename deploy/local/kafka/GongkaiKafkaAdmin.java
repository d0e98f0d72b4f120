import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.admin.UserScramCredentialsDescription;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * The Kafka Admin API calls of deploy/local/kafka_acl.py (SCRAM users and ACLs), which aiokafka
 * does not offer. It only executes: what to grant is computed in Python (contracts/acl.py).
 *
 *   java -cp CLASSES:LIBS/* GongkaiKafkaAdmin CLIENT_PROPERTIES describe
 *       prints one line per SCRAM user ("user\tNAME\tMECHANISM") and per ACL
 *       ("acl\tPRINCIPAL\tRESOURCE_TYPE\tNAME\tPATTERN\tOPERATION\tPERMISSION\tHOST"), then "end"
 *   java -cp CLASSES:LIBS/* GongkaiKafkaAdmin CLIENT_PROPERTIES quorum
 *       prints the KRaft controller quorum: its leader, voters and observers (deploy/local/cluster.py)
 *   java -cp CLASSES:LIBS/* GongkaiKafkaAdmin CLIENT_PROPERTIES sync
 *       describes (as above), then reads tab-separated commands from stdin until its end
 *       (passwords never on the command line):
 *         upsert-user NAME PASSWORD | delete-user NAME
 *         create-acl PRINCIPAL RESOURCE_TYPE NAME PATTERN OPERATION PERMISSION HOST
 *         delete-acl PRINCIPAL RESOURCE_TYPE NAME PATTERN OPERATION PERMISSION HOST
 *       runs them (users in one request, then ACL deletions, then creations), prints a summary
 *       line ("done ...") and describes again: one JVM start for the whole round trip.
 * Exit 0 when everything succeeded; 1 with the failures on stderr otherwise; 2 on bad usage.
 */
public final class GongkaiKafkaAdmin {
    private static final ScramMechanism MECHANISM = ScramMechanism.SCRAM_SHA_512;
    private static final int ITERATIONS = 4096;
    private static final long TIMEOUT_S = 30;

    private GongkaiKafkaAdmin() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2 || !(args[1].equals("describe") || args[1].equals("sync") || args[1].equals("quorum"))) {
            System.err.println("usage: GongkaiKafkaAdmin CLIENT_PROPERTIES describe|sync|quorum");
            System.exit(2);
        }
        Properties props = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        int rc = 0;
        try (Admin admin = Admin.create(props)) {
            if (args[1].equals("quorum")) {
                quorum(admin);
                System.out.flush();
                System.exit(0);
            }
            describe(admin);
            if (args[1].equals("sync")) {
                rc = apply(admin, readCommands());
                describe(admin);
            }
        }
        System.out.flush();
        System.exit(rc);
    }

    /** The KRaft controller quorum: "leader\tID\tEPOCH\tHIGH_WATERMARK", then one line per voter
     *  and observer ("voter|observer\tID\tLOG_END_OFFSET"), then "end". */
    private static void quorum(Admin admin) throws Exception {
        QuorumInfo q = admin.describeMetadataQuorum().quorumInfo().get(TIMEOUT_S, TimeUnit.SECONDS);
        System.out.println("leader\t" + q.leaderId() + "\t" + q.leaderEpoch() + "\t" + q.highWatermark());
        for (QuorumInfo.ReplicaState r : q.voters()) {
            System.out.println("voter\t" + r.replicaId() + "\t" + r.logEndOffset());
        }
        for (QuorumInfo.ReplicaState r : q.observers()) {
            System.out.println("observer\t" + r.replicaId() + "\t" + r.logEndOffset());
        }
        System.out.println("end");
    }

    private static void describe(Admin admin) throws Exception {
        Map<String, UserScramCredentialsDescription> users =
            admin.describeUserScramCredentials().all().get(TIMEOUT_S, TimeUnit.SECONDS);
        for (UserScramCredentialsDescription user : users.values()) {
            for (ScramCredentialInfo info : user.credentialInfos()) {
                System.out.println("user\t" + user.name() + "\t" + info.mechanism().mechanismName());
            }
        }
        for (AclBinding b : admin.describeAcls(AclBindingFilter.ANY).values().get(TIMEOUT_S, TimeUnit.SECONDS)) {
            AccessControlEntry e = b.entry();
            ResourcePattern p = b.pattern();
            System.out.println(String.join("\t", "acl", e.principal(), p.resourceType().name(), p.name(),
                p.patternType().name(), e.operation().name(), e.permissionType().name(), e.host()));
        }
        System.out.println("end");
        System.out.flush();
    }

    private static List<String[]> readCommands() throws Exception {
        List<String[]> commands = new ArrayList<>();
        BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
            if (!line.isBlank()) {
                commands.add(line.split("\t", -1));
            }
        }
        return commands;
    }

    private static AclBinding binding(String[] c) {
        if (c.length != 8) {
            throw new IllegalArgumentException("an ACL needs 7 fields: " + String.join(" ", c));
        }
        return new AclBinding(
            new ResourcePattern(ResourceType.valueOf(c[2]), c[3], PatternType.valueOf(c[4])),
            new AccessControlEntry(c[1], c[7], AclOperation.valueOf(c[5]), AclPermissionType.valueOf(c[6])));
    }

    private static int apply(Admin admin, List<String[]> commands) throws Exception {
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        List<AclBinding> create = new ArrayList<>();
        List<AclBindingFilter> delete = new ArrayList<>();
        for (String[] c : commands) {
            switch (c[0]) {
                case "upsert-user" -> users.add(new UserScramCredentialUpsertion(
                    c[1], new ScramCredentialInfo(MECHANISM, ITERATIONS), c[2].getBytes(StandardCharsets.UTF_8)));
                case "delete-user" -> users.add(new UserScramCredentialDeletion(c[1], MECHANISM));
                case "create-acl" -> create.add(binding(c));
                case "delete-acl" -> delete.add(binding(c).toFilter());
                default -> throw new IllegalArgumentException("unknown command " + c[0]);
            }
        }
        int failures = 0;
        if (!users.isEmpty()) {
            for (var entry : admin.alterUserScramCredentials(users).values().entrySet()) {
                failures += report("user " + entry.getKey(), entry.getValue());
            }
        }
        if (!delete.isEmpty()) {
            for (var entry : admin.deleteAcls(delete).values().entrySet()) {
                failures += report("delete " + entry.getKey(), entry.getValue());
            }
        }
        if (!create.isEmpty()) {
            for (var entry : admin.createAcls(create).values().entrySet()) {
                failures += report("create " + entry.getKey(), entry.getValue());
            }
        }
        System.out.println("done: users " + users.size() + ", acls deleted " + delete.size() + ", acls created "
            + create.size() + ", failures " + failures);
        return failures == 0 ? 0 : 1;
    }

    private static int report(String what, org.apache.kafka.common.KafkaFuture<?> future) throws Exception {
        try {
            future.get(TIMEOUT_S, TimeUnit.SECONDS);
            return 0;
        } catch (ExecutionException e) {
            System.err.println("GongkaiKafkaAdmin: " + what + ": " + e.getCause());
            return 1;
        }
    }
}
