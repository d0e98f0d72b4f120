import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.BsonRegularExpression;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.bson.ObjectId;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import de.bwaldvogel.mongo.wire.message.MongoQuery;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import org.h2.mvstore.DataUtils;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;
import org.h2.mvstore.type.ObjectDataType;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
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
     *   <li>Key look-ups (see {@link KeyLookupH2Collection}): the library uses the {@code _id} index
     *       only when a filter's keys are exactly {@code {_id}}, so every conditional write of the
     *       services ({@code {_id: X, rev: 3}}, {@code {_id: X, outbox_len: n}}) scanned and
     *       deserialised the whole collection; and it ignores secondary indexes, so the outbox
     *       relay's poll {@code {outbox_pending: true}} scanned each collection several times a
     *       second. Both now look candidates up by key and match the whole filter on those only.</li>
     * </ul>
     */
    enum Durability { COMMIT, FSYNC, INTERVAL }

    static final class SerializedH2Backend extends H2Backend {
        private final Object lock = new Object();
        private final Durability durability;

        SerializedH2Backend(String fileName, Durability durability, int cacheMegabytes) {
            // As H2Backend(fileName) opens it (MVStore.open), with a page cache of our size.
            super(new MVStore.Builder().fileName(fileName).cacheSize(cacheMegabytes).open());
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

        /** Every database (also those the super constructor reopens from the file) is ours. */
        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new KeyLookupH2Database(databaseName);
        }

        /**
         * {@link H2Database} with our collection class and our equality indexes. An inner class
         * because {@link H2Database}'s constructor already opens the collections (calling
         * {@link #openOrCreateCollection}) before any field of a subclass is set, while the
         * reference to the outer backend (its MVStore) is set before that constructor runs.
         */
        final class KeyLookupH2Database extends H2Database {

            KeyLookupH2Database(String databaseName) {
                super(databaseName, SerializedH2Backend.this.getMvStore(), SerializedH2Backend.this.getCursorRegistry());
            }

            /** As {@link H2Database#openOrCreateCollection}, with the same map names. */
            @Override
            protected MongoCollection<Object> openOrCreateCollection(String collectionName, CollectionOptions options) {
                String fullName = getFullCollectionNamespace(collectionName);
                MVMap<Object, Document> dataMap = getMvStore().openMap("databases." + fullName,
                        new MVMap.Builder<Object, Document>().keyType(new ObjectDataType()).valueType(new BsonDocumentType()));
                MVMap<String, Object> metaMap = getMvStore().openMap("meta." + fullName);
                return new KeyLookupH2Collection(this, collectionName, options, dataMap, metaMap, cursorRegistry);
            }

            /**
             * A non-unique index (which the library ignores: "not yet implemented") whose first key
             * is a top-level field becomes an {@link EqualityIndex} on that field; others stay
             * ignored.
             */
            @Override
            protected Index<Object> openOrCreateSecondaryIndex(String collectionName, String indexName,
                                                               List<IndexKey> keys, boolean sparse) {
                String field = keys.get(0).getKey();
                if (EqualityIndex.indexable(collectionName, field)) {
                    return new EqualityIndex(indexName, keys);
                }
                return super.openOrCreateSecondaryIndex(collectionName, indexName, keys, sparse);
            }
        }
    }

    /**
     * How the store keeps a document in its file: as BSON, with the library's own wire encoder and
     * decoder, instead of H2's default for a class it does not know, Java serialization (an
     * ObjectOutputStream with its class descriptors for every document, on every write of its page
     * and every read of a page that is not cached): about a third of the store's CPU in the
     * pipeline benchmark. A value stored before (H2's format) is still read, by H2's own type;
     * every write is BSON, so an older file converts itself as its documents change. The map's
     * name and keys are the library's, so dropping or renaming a collection works as before.
     */
    static final class BsonDocumentType extends BasicDataType<Document> {
        /** The first byte of a value in this format; H2's ObjectDataType never starts one with it. */
        static final byte TAG = (byte) 0xF0;
        private final ObjectDataType earlier = new ObjectDataType();
        /** What H2 counts a document's memory as (its page cache and page splits): a running mean. */
        private volatile int averageSize = 1024;

        @Override
        public int getMemory(Document document) {
            return averageSize;
        }

        @Override
        public void write(WriteBuffer buff, Document document) {
            ByteBuf bson = Unpooled.buffer(averageSize);
            try {
                BsonEncoder.encodeDocument(document, bson);
                int size = bson.readableBytes();
                averageSize = (int) ((averageSize * 15L + size) / 16);
                buff.put(TAG).putVarInt(size).put(bson.array(), bson.arrayOffset() + bson.readerIndex(), size);
            } finally {
                bson.release();
            }
        }

        @Override
        public Document read(ByteBuffer buff) {
            if (buff.get(buff.position()) != TAG) {
                return (Document) earlier.read(buff);
            }
            buff.get();
            int size = DataUtils.readVarInt(buff);
            ByteBuf bson = Unpooled.wrappedBuffer(buff.slice(buff.position(), size));
            buff.position(buff.position() + size);
            return BsonDecoder.decodeBson(bson);
        }

        /** Values are never ordered, only found equal or not (e.g. by a conditional replace). */
        @Override
        public int compare(Document a, Document b) {
            return a.equals(b) ? 0 : 1;
        }

        @Override
        public Document[] createStorage(int size) {
            return new Document[size];
        }
    }

    /**
     * An H2 collection that looks a filter's candidates up by key instead of scanning the whole
     * collection, whenever the filter has, at its top level, an equality ({@code {f: v}},
     * {@code {f: {$eq: v}}}) or {@code {f: {$in: [...]}}} on
     * <ul>
     *   <li>the field of a single-field unique index ({@code _id} first): {@code {_id: X, rev: 3}},
     *       {@code {_id: {$in: [...]}, status: "sending"}}; the library's own path does this only
     *       for a filter of exactly {@code {_id: X}};</li>
     *   <li>or else the field of an {@link EqualityIndex}: {@code {outbox_pending: true}}.</li>
     * </ul>
     * The library then runs its full matcher on those candidates only (the same
     * {@code matchDocuments(query, positions, ...)} it uses for {@code {_id: X}}), so a document
     * matches exactly as before: only if every part of the filter holds. The look-up just has to
     * return every document the filter could match, a superset, which each index guarantees for
     * the values it accepts. Everything that selects documents goes through
     * {@code queryDocuments}: find, count, distinct, update (upserts unchanged: nothing matched, so
     * the library inserts from the filter as before), delete and findAndModify. A {@code $natural}
     * sort keeps the scan.
     */
    static final class KeyLookupH2Collection extends H2Collection {

        KeyLookupH2Collection(MongoDatabase database, String collectionName, CollectionOptions options,
                              MVMap<Object, Document> dataMap, MVMap<String, Object> metaMap,
                              CursorRegistry cursorRegistry) {
            super(database, collectionName, options, dataMap, metaMap, cursorRegistry);
        }

        @Override
        protected QueryResult queryDocuments(Document query, Document orderBy, int numberToSkip, int limit,
                                             int batchSize, Document fieldSelector) {
            if (query != null && !query.isEmpty() && !sortsByNaturalOrder(orderBy)) {
                Iterable<Object> positions = candidatePositions(query);
                if (positions != null) {
                    return matchDocuments(query, positions, orderBy, numberToSkip, limit, batchSize, fieldSelector);
                }
            }
            return super.queryDocuments(query, orderBy, numberToSkip, limit, batchSize, fieldSelector);
        }

        /**
         * As the library's, but a position whose document is gone is skipped rather than handed to
         * the matcher (the indexes are kept in step with the data, so this is only a safety net).
         */
        @Override
        protected QueryResult matchDocuments(Document query, Iterable<Object> positions, Document orderBy,
                                             int numberToSkip, int limit, int batchSize, Document fieldSelector) {
            List<Document> documents = new ArrayList<>();
            for (Object position : positions) {
                Document document = getDocument(position);
                if (document != null) {
                    documents.add(document);
                }
            }
            return matchDocumentsFromStream(documents.stream(), query, orderBy, numberToSkip, limit, batchSize,
                fieldSelector);
        }

        private static boolean sortsByNaturalOrder(Document orderBy) {
            return orderBy != null && orderBy.containsKey("$natural");
        }

        /** Positions of every document the filter may match, or null: no index applies. */
        private Iterable<Object> candidatePositions(Document query) {
            Index<Object> unique = null;
            Document uniqueQuery = null;
            for (Index<Object> index : getIndexes()) {
                if (!index.isUnique() || index.getKeys().size() != 1) {
                    continue;
                }
                String field = index.getKeys().get(0).getKey();
                if (field.contains(".") || !query.containsKey(field)) {
                    continue;
                }
                Object lookup = uniqueLookup(query.get(field));
                if (lookup == null) {
                    continue;
                }
                Document keyQuery = new Document(field, lookup);
                if (!index.canHandle(keyQuery)) {
                    continue;
                }
                if (field.equals(getIdField())) {
                    return index.getPositions(keyQuery);
                }
                if (unique == null) {
                    unique = index;
                    uniqueQuery = keyQuery;
                }
            }
            if (unique != null) {
                return unique.getPositions(uniqueQuery);
            }
            for (Index<Object> index : getIndexes()) {
                if (index instanceof EqualityIndex && index.canHandle(query)) {
                    return index.getPositions(query);
                }
            }
            return null;
        }

        /**
         * The condition on a unique index's field as a query the library's unique index answers,
         * or null: a plain value (not null, not a document, array or regular expression; the index
         * normalises numbers as for {@code {_id: v}}), {@code {$eq: value}} (unwrapped) or
         * {@code {$in: [plain values]}}.
         */
        private static Object uniqueLookup(Object condition) {
            if (plainValue(condition)) {
                return condition;
            }
            if (condition instanceof Document doc && doc.size() == 1) {
                if (doc.containsKey("$eq") && plainValue(doc.get("$eq"))) {
                    return doc.get("$eq");
                }
                if (doc.get("$in") instanceof Collection<?> values) {
                    for (Object value : values) {
                        if (!plainValue(value)) {
                            return null;
                        }
                    }
                    return doc;
                }
            }
            return null;
        }

        private static boolean plainValue(Object value) {
            return !Missing.isNullOrMissing(value) && !(value instanceof Map) && !(value instanceof Collection)
                && !(value instanceof BsonRegularExpression) && !(value instanceof Pattern);
        }
    }

    /**
     * An in-memory index for equality on one top-level field, in place of the non-unique indexes
     * the library ignores (for a compound index: on its first field). Values are strings,
     * booleans and ObjectIds only, the types of the services' polls ({@code outbox_pending},
     * {@code status}, {@code case_id}, ...): their equality has no normalisation to get wrong. A
     * document is listed under its field's value, and under each such element when the field is an
     * array ({@code {f: v}} matches an array containing v); a filter with {@code {f: v}},
     * {@code {f: {$eq: v}}} or {@code {f: {$in: [v, ...]}}} of those types gets the documents
     * listed under those values, a superset of its matches, which {@link KeyLookupH2Collection}
     * then filters with the whole filter. Other filters on the field are not answered (the
     * collection is scanned, as before).
     *
     * <p>Kept up to date by the library through the {@link Index} interface (add, updateInPlace,
     * remove); built by a scan when the collection's indexes are opened (at start, or by
     * createIndexes), never stored. Like the library's ignored index it is "sparse" and reports no
     * position of its own, so the library's bookkeeping takes positions from the unique indexes.
     */
    static final class EqualityIndex extends Index<Object> {
        private final String field;
        private final Map<Object, TreeSet<Object>> positionsByValue = new HashMap<>();
        private long entries;

        EqualityIndex(String name, List<IndexKey> keys) {
            super(name, keys, true);
            this.field = keys.get(0).getKey();
        }

        /** Only top-level fields of user collections (whose documents' key is their _id). */
        static boolean indexable(String collectionName, String field) {
            return !collectionName.startsWith("system.") && !field.contains(".") && !field.startsWith("$")
                && !field.equals("_id");
        }

        private static boolean indexedType(Object value) {
            return value instanceof String || value instanceof Boolean || value instanceof ObjectId;
        }

        /** The values a document is listed under. */
        private Set<Object> valuesOf(Document document) {
            Object value = document.get(field);
            if (indexedType(value)) {
                return Set.of(value);
            }
            if (!(value instanceof Collection<?> elements)) {
                return Set.of();
            }
            Set<Object> values = new LinkedHashSet<>();
            collectElements(elements, values);
            return values;
        }

        private static void collectElements(Collection<?> elements, Set<Object> into) {
            for (Object element : elements) {
                if (indexedType(element)) {
                    into.add(element);
                } else if (element instanceof Collection<?> nested) {
                    collectElements(nested, into); // more than a match needs: harmless
                }
            }
        }

        /** The values a filter on the field asks for, or null: not answered by this index. */
        private List<Object> lookupValues(Document query) {
            if (!query.containsKey(field)) {
                return null;
            }
            Object condition = query.get(field);
            if (indexedType(condition)) {
                return List.of(condition);
            }
            if (condition instanceof Document doc && doc.size() == 1) {
                if (indexedType(doc.get("$eq"))) {
                    return List.of(doc.get("$eq"));
                }
                if (doc.get("$in") instanceof Collection<?> values) {
                    for (Object value : values) {
                        if (!indexedType(value)) {
                            return null;
                        }
                    }
                    return new ArrayList<>(values);
                }
            }
            return null;
        }

        /** The document's position: H2Collection keys its documents by their _id. */
        private static Object positionOf(Document document) {
            return Missing.ofNullable(document.get("_id"));
        }

        private void put(Object value, Object position) {
            if (positionsByValue.computeIfAbsent(value, v -> new TreeSet<>(ValueComparator.asc())).add(position)) {
                entries++;
            }
        }

        private void take(Object value, Object position) {
            TreeSet<Object> positions = positionsByValue.get(value);
            if (positions != null && positions.remove(position)) {
                entries--;
                if (positions.isEmpty()) {
                    positionsByValue.remove(value);
                }
            }
        }

        @Override
        public Object getPosition(Document document) {
            return null;
        }

        @Override
        public void checkAdd(Document document, MongoCollection<Object> collection) {
            // not unique: nothing to refuse
        }

        @Override
        public void add(Document document, Object position, MongoCollection<Object> collection) {
            Object key = Missing.ofNullable(position);
            for (Object value : valuesOf(document)) {
                put(value, key);
            }
        }

        @Override
        public Object remove(Document document) {
            Object key = positionOf(document);
            for (Object value : valuesOf(document)) {
                take(value, key);
            }
            return null;
        }

        @Override
        public void checkUpdate(Document oldDocument, Document newDocument, MongoCollection<Object> collection) {
            // not unique: nothing to refuse
        }

        @Override
        public void updateInPlace(Document oldDocument, Document newDocument, Object position,
                                  MongoCollection<Object> collection) {
            Set<Object> before = valuesOf(oldDocument);
            Set<Object> after = valuesOf(newDocument);
            if (before.equals(after)) {
                return;
            }
            Object key = Missing.ofNullable(position);
            for (Object value : before) {
                if (!after.contains(value)) {
                    take(value, key);
                }
            }
            for (Object value : after) {
                if (!before.contains(value)) {
                    put(value, key);
                }
            }
        }

        @Override
        public boolean canHandle(Document query) {
            return lookupValues(query) != null;
        }

        @Override
        public Iterable<Object> getPositions(Document query) {
            List<Object> values = lookupValues(query);
            if (values == null) {
                throw new UnsupportedOperationException("not an equality on " + field + ": " + query);
            }
            if (values.size() == 1) {
                TreeSet<Object> positions = positionsByValue.get(values.get(0));
                return positions == null ? List.of() : new ArrayList<>(positions);
            }
            // In position (_id) order, as a scan returns them.
            TreeSet<Object> union = new TreeSet<>(ValueComparator.asc());
            for (Object value : values) {
                TreeSet<Object> positions = positionsByValue.get(value);
                if (positions != null) {
                    union.addAll(positions);
                }
            }
            return new ArrayList<>(union);
        }

        @Override
        public long getCount() {
            return entries;
        }

        @Override
        public long getDataSize() {
            return entries;
        }

        @Override
        public void drop() {
            positionsByValue.clear();
            entries = 0;
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
        // STORE_CACHE_MB: H2's page cache, in megabytes as H2 counts them (a document counts as its
        // BSON size; its objects take a few times that). H2's default, 16, made every look-up of a
        // random _id read and decode a page from the file once a burst's data outgrew it.
        int cacheMegabytes = Integer.parseInt(setting(new String[0], 0, "STORE_CACHE_MB", "128"));
        SerializedH2Backend backend = new SerializedH2Backend(dataFile.toString(), durability, cacheMegabytes);
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
