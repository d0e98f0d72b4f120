import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.message.MongoQuery;
import io.netty.channel.Channel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The local Gongkai document store: a MongoDB wire-protocol server (mongo-java-server) whose data
 * lives in one H2 MVStore file, so it survives a restart.
 *
 * <p>Usage: {@code GongkaiStore [DATA_FILE [PORT [HOST]]]}; each missing argument is taken from the
 * environment (STORE_DATA_FILE, STORE_PORT, STORE_HOST), then from the defaults (gongkai-store.mv,
 * 27117, 127.0.0.1). SIGTERM / SIGINT shut the server down cleanly: stop listening, commit,
 * close the file.
 *
 * <p>STORE_DURABILITY says when a write is made durable, always before its reply is sent:
 * <ul>
 *   <li>{@code commit} (the default): every command that changed data is committed to the file
 *       (MVStore writes the chunk to the operating system) before its reply; concurrent writers
 *       share one commit (group commit). A SIGKILL of the store
 *       loses no acknowledged write; a crash of the machine itself may lose what the OS had not yet
 *       written to the disk.</li>
 *   <li>{@code fsync}: the same, and the file is forced to the disk (fsync) before the reply, so a
 *       power loss loses no acknowledged write either. Slower; see benchmarks/store_durability.py.</li>
 *   <li>{@code interval}: the old behaviour, commits once every STORE_COMMIT_INTERVAL_MS (default
 *       1000) only: acknowledged writes of the last interval are lost by a kill. For measurements
 *       only.</li>
 * </ul>
 */
public final class GongkaiStore {

    private GongkaiStore() {
    }

    /**
     * The version the server announces. mongo-java-server 1.47.0's newest
     * {@code ServerVersion.MONGO_5_0} reports wire version 8 (that of MongoDB 4.2), and PyMongo 4.20
     * refuses servers below wire version 9 (MongoDB 4.4): "reports wire version 8, but this version
     * of PyMongo requires at least 9". So announce MongoDB 4.4 / wire 9, the lowest PyMongo accepts:
     * the higher the number, the more newer protocol features a driver may assume.
     */
    static final MongoVersion ANNOUNCED_VERSION = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(4, 4, 0);
        }

        @Override
        public int getWireVersion() {
            return 9;
        }
    };

    /**
     * The H2 backend with three corrections of mongo-java-server 1.47.0 that Gongkai relies on:
     * <ul>
     *   <li>Commands run one at a time, and each reply is deep-copied before the lock is released.
     *       The library runs commands concurrently on its worker threads, and its replies can share
     *       objects with stored documents: 100 concurrent {@code findAndModify {$inc: 1},
     *       new: true} on one document left the right final count but returned duplicate values
     *       (some callers saw a later state). MongoDB guarantees that each caller sees its own
     *       result (single-document atomicity): the intake's tracking-number counter relies on it.
     *       Measured: the lock alone or the copy alone still return duplicates; both fix it.
     *       Serialising every command is plenty for local development and tests.</li>
     *   <li>An {@code insert} with write errors reported {@code n} = all documents sent, even those
     *       refused; it now reports those actually inserted (the data itself was right).</li>
     *   <li>{@code hello} (MongoDB 4.4.2+ name of {@code isMaster}) is answered, for tools.</li>
     * </ul>
     */
    enum Durability { COMMIT, FSYNC, INTERVAL }

    static final class SerializedH2Backend extends H2Backend {
        private final Object lock = new Object();
        private final Durability durability;

        SerializedH2Backend(String fileName, Durability durability) {
            super(fileName);
            this.durability = durability;
        }

        /** Changes made under the lock, numbered; and the highest number known to be durable. */
        private long changes;
        private long durableUpTo;
        private long commits;
        private final Object commitLock = new Object();

        /** For the shutdown line: changes made and commits that made them durable. */
        String commitStats() {
            synchronized (commitLock) {
                return changes + " changes made durable by " + commits + " commits";
            }
        }

        /**
         * Under the lock, after a command: the number of the change it made, or 0 if it changed
         * nothing (reads are not delayed).
         */
        private long changed() {
            if (durability == Durability.INTERVAL || !getMvStore().hasUnsavedChanges()) {
                return 0;
            }
            return ++changes;
        }

        /**
         * Outside the lock, before the reply goes out: wait until change {@code mine} is durable.
         * Group commit: the first waiter commits everything changed so far (under the lock, so no
         * command runs half-way through a commit) and, with fsync, forces the file to the disk;
         * the writers that queued behind it find their change already durable and return. Under
         * concurrent writers one commit serves many of them.
         */
        private void awaitDurable(long mine) {
            if (mine == 0) {
                return;
            }
            synchronized (commitLock) {
                if (durableUpTo >= mine) {
                    return;
                }
                long upTo;
                synchronized (lock) {
                    upTo = changes;
                    getMvStore().commit();
                }
                if (durability == Durability.FSYNC) {
                    getMvStore().sync();
                }
                durableUpTo = upTo;
                commits++;
            }
        }

        @Override
        public Document handleCommand(Channel channel, String databaseName, String command, Document query) {
            if ("hello".equalsIgnoreCase(command)) {
                Document reply = super.handleCommand(channel, databaseName, "isMaster", query);
                reply.put("isWritablePrimary", reply.get("ismaster"));
                return reply;
            }
            Document reply;
            long change;
            synchronized (lock) {
                // Copy the reply while still holding the lock: it may share objects with stored
                // documents that a later command mutates before Netty encodes this reply.
                reply = super.handleCommand(channel, databaseName, command, query).cloneDeeply();
                change = changed();
            }
            awaitDurable(change);
            if ("insert".equalsIgnoreCase(command)) {
                fixInsertCount(query, reply);
            }
            return reply;
        }

        private static void fixInsertCount(Document query, Document reply) {
            if (!(reply.get("writeErrors") instanceof List<?> errors) || errors.isEmpty()
                    || !(query.get("documents") instanceof List<?> documents)) {
                return;
            }
            boolean ordered = !Boolean.FALSE.equals(query.get("ordered"));
            int inserted;
            if (ordered) {
                // An ordered insert stops at its first error: everything before it went in.
                inserted = Integer.MAX_VALUE;
                for (Object error : errors) {
                    if (error instanceof Document doc && doc.get("index") instanceof Number index) {
                        inserted = Math.min(inserted, index.intValue());
                    }
                }
                inserted = Math.min(inserted, documents.size());
            } else {
                inserted = documents.size() - errors.size();
            }
            reply.put("n", Math.max(0, inserted));
        }

        @Override
        public QueryResult handleQuery(MongoQuery query) {
            QueryResult result;
            long change;
            synchronized (lock) {
                result = super.handleQuery(query);
                change = changed();
            }
            awaitDurable(change);
            return result;
        }

        @Override
        public void dropDatabase(String database) {
            long change;
            synchronized (lock) {
                super.dropDatabase(database);
                change = changed();
            }
            awaitDurable(change);
        }

        @Override
        public void closeCursors(List<Long> cursorIds) {
            synchronized (lock) {
                super.closeCursors(cursorIds);
            }
        }

        @Override
        public void handleClose(Channel channel) {
            synchronized (lock) {
                super.handleClose(channel);
            }
        }
    }

    private static String setting(String[] args, int index, String envName, String fallback) {
        if (args.length > index && !args[index].isBlank()) {
            return args[index];
        }
        String fromEnv = System.getenv(envName);
        return fromEnv != null && !fromEnv.isBlank() ? fromEnv : fallback;
    }

    public static void main(String[] args) throws Exception {
        Path dataFile = Path.of(setting(args, 0, "STORE_DATA_FILE", "gongkai-store.mv")).toAbsolutePath();
        int port = Integer.parseInt(setting(args, 1, "STORE_PORT", "27117"));
        String host = setting(args, 2, "STORE_HOST", "127.0.0.1");
        long commitMs = Long.parseLong(setting(new String[0], 0, "STORE_COMMIT_INTERVAL_MS", "1000"));
        Durability durability = Durability.valueOf(
                setting(new String[0], 0, "STORE_DURABILITY", "commit").toUpperCase(java.util.Locale.ROOT));

        if (dataFile.getParent() != null) {
            Files.createDirectories(dataFile.getParent());
        }
        SerializedH2Backend backend = new SerializedH2Backend(dataFile.toString(), durability);
        backend.version(ANNOUNCED_VERSION);
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);

        ScheduledExecutorService committer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "store-committer");
            t.setDaemon(true);
            return t;
        });
        committer.scheduleWithFixedDelay(() -> {
            try {
                backend.commit();
            } catch (RuntimeException e) {
                System.err.println("GongkaiStore: periodic commit failed: " + e);
            }
        }, commitMs, commitMs, TimeUnit.MILLISECONDS);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            committer.shutdownNow();
            try {
                backend.commit();
            } finally {
                // Stops listening, closes client connections, then closes the MVStore file.
                server.shutdown();
                System.err.println("GongkaiStore: stopped, data committed to " + dataFile + " ("
                        + backend.commitStats() + ")");
                stopped.countDown();
            }
        }, "store-shutdown"));

        System.err.println("GongkaiStore: listening on " + host + ":" + port + " (announcing MongoDB "
                + ANNOUNCED_VERSION.toVersionString() + "), data file " + dataFile + ", durability "
                + durability.name().toLowerCase(java.util.Locale.ROOT));
        stopped.await();
    }
}
